"""What a caller may send to act on a job: a restart's criteria (Graph's body, or the
connector's list of flags), checked before anything is asked of Graph."""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from shared.core.errors import InvalidInputError
from shared.core.jsontext import first_problem

# The documented flags of synchronizationJobRestartScope, as Graph spells them.
ResetScope = Literal[
    "None", "ConnectorDataStore", "Escrows", "Watermark", "QuarantineState", "Full", "ForceDeletes"
]
RESET_SCOPES: tuple[str, ...] = get_args(ResetScope)
_BY_LOWER = {flag.lower(): flag for flag in RESET_SCOPES}
# A client request id the app passes on to Graph: printable, short.
_CLIENT_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


class RestartCriteria(BaseModel):
    """synchronizationJobRestartCriteria: what a restart resets."""

    model_config = ConfigDict(extra="forbid")

    resetScope: StrictStr | list[StrictStr] | None = Field(
        default=None,
        description="The flags to reset: Graph's comma-separated text, or a list of flags.",
    )


class RestartRequest(BaseModel):
    """The body of a restart, as Graph takes it."""

    model_config = ConfigDict(extra="forbid")

    criteria: RestartCriteria | None = None


def restart_body(raw: bytes, parsed: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """The body to send Graph for a restart (None: no body) and its flags, from the
    caller's; the flags checked and spelled as Graph spells them (none given: resetScope is
    left out, Graph's default). InvalidInputError naming a wrong flag."""
    if not raw.strip():
        return None, []
    try:
        request = RestartRequest.model_validate(parsed)
    except ValidationError as error:
        raise InvalidInputError(
            f"The restart body is not valid: {first_problem(error)}. Send "
            '{"criteria": {"resetScope": "Watermark, Escrows, QuarantineState"}}.',
            target="criteria",
        ) from None
    if request.criteria is None:
        return {}, []
    scope = request.criteria.resetScope
    if scope is None:
        return {"criteria": {}}, []
    given = scope.split(",") if isinstance(scope, str) else scope
    flags = []
    for flag in (part.strip() for part in given):
        if not flag:
            continue
        known = _BY_LOWER.get(flag.lower())
        if known is None:
            raise InvalidInputError(
                f"'{flag}' is not a reset scope; use any of: {', '.join(RESET_SCOPES)}.",
                target="criteria.resetScope",
            )
        flags.append(known)
    flags = list(dict.fromkeys(flags))
    if not flags:
        return {"criteria": {}}, []
    return {"criteria": {"resetScope": ", ".join(flags)}}, flags


def client_request_id(given: str | None) -> str:
    """The id sent to Graph as x-ms-client-request-id: the caller's, or a new one."""
    if given is None or not given.strip():
        return str(uuid.uuid4())
    if not _CLIENT_REQUEST_ID.fullmatch(given.strip()):
        raise InvalidInputError(
            "x-ms-client-request-id must be 1 to 128 printable characters (a GUID, say).",
            target="x-ms-client-request-id",
        )
    return given.strip()
