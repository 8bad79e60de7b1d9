"""The settings of provisioning jobs: which service principals' jobs are polled."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.core.errors import SettingsError
from shared.settings import flag, object_ids

ENABLE_SETTING = "PROVISIONING_JOBS_ENABLED"
SERVICE_PRINCIPALS_SETTING = "PROVISIONING_SERVICE_PRINCIPAL_IDS"


@dataclass(frozen=True)
class ProvisioningJobsSettings:
    enabled: bool = False
    # Object ids of the service principals whose jobs are polled (lower-case, once each).
    service_principal_ids: tuple[str, ...] = ()


def read_settings(env: Mapping[str, str]) -> ProvisioningJobsSettings:
    """On when service principals are named, unless PROVISIONING_JOBS_ENABLED says otherwise
    (Graph has no tenant-wide list of provisioning jobs, so the service principals must be
    named)."""
    ids = object_ids(env, SERVICE_PRINCIPALS_SETTING, "service principal")
    enabled = flag(env, ENABLE_SETTING, default=bool(ids))
    if enabled and not ids:
        raise SettingsError(
            f"{ENABLE_SETTING} is true but {SERVICE_PRINCIPALS_SETTING} names no service "
            "principal: give their object ids, comma-separated."
        )
    return ProvisioningJobsSettings(enabled=enabled, service_principal_ids=ids)
