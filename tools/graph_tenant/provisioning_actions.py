"""The actions of a provisioning job (v1.0 ``POST .../synchronization/jobs/{jobId}/start``,
``/pause`` and ``/restart``): their effect on the job, and the log of every action taken, so
that tests can check what the app asked Graph to do.

Graph answers each with 204 and no body. ``start`` resumes a paused job and lifts a quarantine;
``pause`` stops the job's schedule; ``restart`` takes a ``criteria`` whose ``resetScope`` says
what to clear (the flags of synchronizationJobRestartScope). Effects Graph only shows at the
job's next run (a lifted quarantine) are shown at once.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from tools.graph_tenant.common import GraphAnswer, GraphCall, graph_timestamp, json_copy

ACTIONS = ("start", "pause", "restart")
# The flags of synchronizationJobRestartScope, spelled as Graph spells them.
RESTART_SCOPES = (
    "None",
    "ConnectorDataStore",
    "Escrows",
    "Watermark",
    "QuarantineState",
    "Full",
    "ForceDeletes",
)
# Full stands for every flag; no (or an empty) resetScope for the admin center's "Restart
# provisioning", which Graph documents as about QuarantineState, Watermark and Escrows.
FULL_SCOPE = frozenset(RESTART_SCOPES) - {"None", "Full"}
DEFAULT_SCOPE = frozenset({"QuarantineState", "Watermark", "Escrows"})
SCOPE_TYPE = "microsoft.graph.synchronizationJobRestartScope"
CRITERIA_TYPE = "microsoft.graph.synchronizationJobRestartCriteria"
# The header a client names its request with: Azure SDKs send the first, Graph's docs the second.
CLIENT_REQUEST_ID_HEADERS = ("x-ms-client-request-id", "client-request-id")


def parse_reset_scope(value: Any) -> frozenset[str]:
    """The flags a ``resetScope`` sets, ``Full`` expanded; :data:`DEFAULT_SCOPE` when it is
    null or empty. ValueError (Graph's 400 message) for a value that is not a string of known
    flags (they are case-sensitive, as OData's enum members are)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_SCOPE
    if not isinstance(value, str):
        raise ValueError(
            f"Cannot convert the value {json.dumps(value)} to the type '{SCOPE_TYPE}'."
        )
    flags = {flag.strip() for flag in value.split(",")}
    if not flags <= set(RESTART_SCOPES):
        raise ValueError(
            f"Cannot convert the literal '{value}' to the expected type '{SCOPE_TYPE}'."
        )
    return FULL_SCOPE if "Full" in flags else frozenset(flags - {"None"})


def parse_restart(body: bytes) -> tuple[dict[str, Any] | None, frozenset[str]]:
    """The ``criteria`` of a restart's body (None when absent) and the reset flags it sets.

    The body, its ``criteria`` and their ``resetScope`` may all be omitted. ValueError
    (Graph's 400 message) for a body that is not a JSON object, for a parameter or a criteria
    property that the action does not have, or for a bad ``resetScope``.
    """
    if not body.strip():
        return None, DEFAULT_SCOPE
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("Invalid JSON. The request body could not be read.") from None
    if not isinstance(document, dict):
        raise ValueError("The request body must be a JSON object of the action's parameters.")
    for name in document:
        if name != "criteria":
            raise ValueError(
                f"The parameter '{name}' in the request payload is not a valid parameter "
                "for the operation 'restart'."
            )
    criteria = document.get("criteria")
    if criteria is None:
        return None, DEFAULT_SCOPE
    if not isinstance(criteria, dict):
        raise ValueError(f"The parameter 'criteria' must be a '{CRITERIA_TYPE}' object.")
    for name in criteria:
        if name != "resetScope" and not name.startswith("@odata."):
            raise ValueError(
                f"The property '{name}' does not exist on type '{CRITERIA_TYPE}'. Make sure "
                "to only use property names that are defined by the type."
            )
    return criteria, parse_reset_scope(criteria.get("resetScope"))


def is_quarantined(status: dict[str, Any]) -> bool:
    return status.get("code") == "Quarantine" or status.get("quarantine") is not None


def lift_quarantine(status: dict[str, Any]) -> None:
    """The job leaves quarantine: no ``quarantine``, code Active unless it is paused."""
    if is_quarantined(status):
        status["quarantine"] = None
        if status.get("code") == "Quarantine":
            status["code"] = "Active"


def set_schedule_state(job: dict[str, Any], state: str) -> None:
    """The schedule follows pause and start; a disabled one stays disabled."""
    schedule = job.get("schedule")
    if isinstance(schedule, dict) and schedule.get("state") in ("Active", "Paused"):
        schedule["state"] = state


def apply_action(job: dict[str, Any], action: str, scope: frozenset[str]) -> None:
    """What ``action`` does to the stored ``job`` (``scope``: a restart's reset flags).

    start: code Active, a quarantine lifted, the schedule Active again. pause: code Paused,
    the schedule Paused. restart: with QuarantineState the quarantine is lifted, with Escrows
    the last execution's escrowed counts become 0 (Watermark and the other flags change
    nothing shown); then the code becomes Active, unless the job is paused or stays in
    quarantine.
    """
    status = job["status"]
    if action == "start":
        lift_quarantine(status)
        status["code"] = "Active"
        set_schedule_state(job, "Active")
    elif action == "pause":
        status["code"] = "Paused"
        set_schedule_state(job, "Paused")
    else:
        if "QuarantineState" in scope:
            lift_quarantine(status)
        last = status.get("lastExecution")
        if "Escrows" in scope and isinstance(last, dict):
            last["countEscrowed"] = last["countEscrowedRaw"] = 0
        if status.get("code") != "Paused" and not is_quarantined(status):
            status["code"] = "Active"


def client_request_id(call: GraphCall) -> str | None:
    """The id the client gave its request, if it gave one."""
    for name in CLIENT_REQUEST_ID_HEADERS:
        if call.headers.get(name):
            return call.headers[name]
    return None


class JobActions:
    """Performs the actions on jobs, and logs each one taken (oldest first)."""

    def __init__(self) -> None:
        self._log: list[dict[str, Any]] = []

    def perform(
        self, call: GraphCall, sp_id: str, job_id: str, job: dict[str, Any], action: str
    ) -> GraphAnswer:
        """Answer ``call``, the ``action`` on the stored ``job``: 204 and the action logged,
        or 400 for a restart's bad body (the job untouched, nothing logged)."""
        criteria: dict[str, Any] | None = None
        scope: frozenset[str] = frozenset()
        if action == "restart":
            try:
                criteria, scope = parse_restart(call.body)
            except ValueError as exc:
                return call.error(400, "BadRequest", str(exc))
        apply_action(job, action, scope)
        self._log.append(
            {
                "servicePrincipalId": sp_id,
                "jobId": job_id,
                "action": action,
                "criteria": json_copy(criteria),
                "clientRequestId": client_request_id(call),
                "time": graph_timestamp(time.time_ns()),
            }
        )
        return call.no_content()

    @property
    def log(self) -> list[dict[str, Any]]:
        """A copy of every action taken, oldest first."""
        return json_copy(self._log)

    def clear(self) -> None:
        self._log.clear()

    # -- control API -------------------------------------------------------------------------

    def control_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_tenant/jobActions", self._control_get),
            web.delete("/_tenant/jobActions", self._control_delete),
        ]

    async def _control_get(self, _request: web.Request) -> web.Response:
        return web.json_response({"value": self.log})

    async def _control_delete(self, _request: web.Request) -> web.Response:
        self.clear()
        return web.Response(status=204)
