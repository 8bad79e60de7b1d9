"""A job's id in rows, history and events (and its RowKey): ``{servicePrincipalId}:{jobId}``.
A job id is unique only within its service principal; an object id holds no colon."""

from __future__ import annotations

from shared.core.env import OBJECT_ID
from shared.core.errors import InvalidInputError
from shared.sources.provisioning_jobs.const import JOB_KEY_SEPARATOR


def job_key(service_principal_id: str, job_id: str) -> str:
    return f"{service_principal_id}{JOB_KEY_SEPARATOR}{job_id}"


def split_job_key(key: str) -> tuple[str, str]:
    """(service principal id, job id) of a job's key."""
    service_principal_id, _separator, job_id = key.partition(JOB_KEY_SEPARATOR)
    return service_principal_id, job_id


def service_principal_id(raw: str) -> str:
    """A caller's service principal id: an object id (a GUID, which Graph matches in any
    case; the cache keeps them lower). InvalidInputError otherwise."""
    if not OBJECT_ID.fullmatch(raw):
        raise InvalidInputError(
            f"'{raw}' is not a service principal object id (a GUID).", target="id"
        )
    return raw.lower()
