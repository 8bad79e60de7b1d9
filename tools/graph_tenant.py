"""A simulated Microsoft Graph tenant: School Data Sync profiles, Entra ID provisioning jobs and
Industry Data runs.

The real education synchronization API stopped returning data at the end of 2024, so the app
can only be exercised against a stand-in. This one mirrors the parts of Graph the app relies
on: paged listings with opaque ``@odata.nextLink`` tokens, the evolvable-enum rule behind
``Prefer: include-unknown-enum-members``, Graph-shaped error bodies, JSON batching
(``$batch``), a throttling budget answered with ``429`` and ``Retry-After``, and resources served
byte for byte as stored (Int64 counts, 7-digit fractional timestamps, ``\\r\\n`` in messages).

Three Graph APIs ("sources") are served:

* ``education``: SDS classic profiles and their ``profileStatus`` (beta).
* ``synchronization``: Entra ID provisioning jobs of service principals (v1.0). Graph has no
  tenant-wide list of jobs, so clients must know the service principals' ids.
* ``industryData``: Industry Data runs and their ``getStatistics`` (beta).

Tests steer it two ways: in-process through :class:`SimulatedTenant` (same event loop as the
code under test), or over HTTP through the ``/_tenant/`` control API when it runs as a
subprocess (``python -m tools.graph_tenant``). Faults (throttling, server errors, slow or
truncated answers) and the refusal of a retired API can be switched on per path.

Every Graph answer is computed by :meth:`SimulatedTenant._answer` from (method, path, query,
headers) alone, with the throttling budget, faults and refusals applied there, so that each
sub-request of a ``$batch`` is answered exactly the way a top-level request is. New Graph
endpoints are one more entry in ``SimulatedTenant._routes``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import copy
import json
import logging
import math
import random
import re
import signal
import sys
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any, NamedTuple, Self

from aiohttp import web
from multidict import CIMultiDict

logger = logging.getLogger(__name__)

GRAPH_JSON = (
    "application/json; odata.metadata=minimal; odata.streaming=true; "
    "IEEE754Compatible=false; charset=utf-8"
)
# Graph sends its error bodies with a bare JSON content type.
PLAIN_JSON = "application/json"

PROFILES_PATH = "/beta/education/synchronizationProfiles"
SERVICE_PRINCIPALS_PATH = "/v1.0/servicePrincipals"
RUNS_PATH = "/beta/external/industryData/runs"
MAX_TOP = 999

# Graph refuses a $batch with more requests than this, and never nests batches.
MAX_BATCH_REQUESTS = 20
BATCH_PATH = re.compile(r"/(?P<version>v1\.0|beta)/\$batch")
# Headers of the $batch envelope that also hold for its sub-requests: who is calling and which
# host they dialled (for nextLinks). Everything else, Prefer included, is per sub-request.
BATCH_ENVELOPE_HEADERS = ("Host", "Authorization")

# Members of educationSynchronizationStatus that Graph only sends to clients that opted in;
# everyone else sees ``unknownFutureValue`` in their place.
EVOLVABLE_STATUS_MEMBERS = frozenset({"extracting", "validating"})
INCLUDE_UNKNOWN_ENUM_MEMBERS = "include-unknown-enum-members"

# Path prefix of each Graph API ("source") that can be refused as a whole.
SOURCE_PREFIXES = {
    "education": "/beta/education/",
    "synchronization": "/v1.0/servicePrincipals/",
    "industryData": "/beta/external/industryData/",
}
# The segment a refusal names by default, as Graph does once it no longer knows an API.
SOURCE_SEGMENTS = {
    "education": "synchronizationProfiles",
    "synchronization": "synchronization",
    "industryData": "industryData",
}

# A body cut off mid-object, as a dropped connection or a broken proxy would deliver it.
MALFORMED_BODY = b'{"@odata.context": "truncated", "id": "'

DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The request is malformed or incorrect."),
    401: ("InvalidAuthenticationToken", "Access token is empty."),
    403: ("Forbidden", "Insufficient privileges to complete the operation."),
    404: ("ResourceNotFound", "The requested resource was not found."),
    405: ("BadRequest", "Specified HTTP method is not allowed for the request uri."),
    429: ("TooManyRequests", "Too many requests. Retry after the time in Retry-After."),
    500: ("InternalServerError", "An internal server error occurred."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The gateway did not receive a response in time."),
}

# Deterministic profile ids (``--profiles``, ``--demo``) are uuid5 names in this namespace.
ID_NAMESPACE = uuid.UUID("6f1d7c52-3a4e-5b8f-9c0d-2e7a41b9d6c3")

SHUTDOWN_TIMEOUT = 1.0


def graph_timestamp(epoch_ns: int) -> str:
    """Format an instant the way Graph does: UTC, 100-ns precision (7 digits), ``Z`` suffix.

    Python's datetime stops at microseconds, so the fraction is computed from nanoseconds.
    """
    seconds, remainder = divmod(epoch_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{remainder // 100:07d}Z"


def retry_after_value(seconds: float) -> str:
    """Graph sends whole seconds; fractions are kept so that tests need not wait seconds."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def json_copy(value: Any) -> Any:
    """An independent copy of JSON data: new dicts and lists, shared immutable leaves.

    Several times faster than copy.deepcopy (no memo), and unlike a JSON round trip it shares
    key strings, which keeps tenants of 10,000+ jobs or runs small. Values that are not JSON
    containers are shared as they are.
    """
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_copy(item) for item in value]
    return value


def default_error(status: int) -> tuple[str, str]:
    """Graph-like code and message for a status that a fault or refusal did not spell out."""
    if status in DEFAULT_ERRORS:
        return DEFAULT_ERRORS[status]
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "UnknownError", f"The service answered HTTP {status}."
    return "".join(phrase.title().split()), f"{phrase}."


def is_answerable_status(status: object) -> bool:
    """Statuses a fault or refusal may give: 200 (answer normally) or an error status."""
    return isinstance(status, int) and (status == 200 or 400 <= status <= 599)


def prefers_unknown_enum_members(headers: CIMultiDict[str]) -> bool:
    """Whether any ``Prefer`` header lists ``include-unknown-enum-members`` (any case)."""
    for value in headers.getall("Prefer", []):
        for preference in value.split(","):
            if preference.split(";", 1)[0].strip().lower() == INCLUDE_UNKNOWN_ENUM_MEMBERS:
                return True
    return False


def encode_skiptoken(offset: int, top: int) -> str:
    """An opaque continuation token, so that clients follow nextLink instead of building it."""
    raw = json.dumps({"offset": offset, "top": top}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_skiptoken(token: str) -> tuple[int, int]:
    """(offset, top) from a token made by :func:`encode_skiptoken`; ValueError otherwise."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        decoded = json.loads(raw)
        offset, top = decoded["offset"], decoded["top"]
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"The $skiptoken value '{token}' is not valid.") from exc
    if not (isinstance(offset, int) and isinstance(top, int) and offset >= 0 and top >= 1):
        raise ValueError(f"The $skiptoken value '{token}' is not valid.")
    return offset, top


def parse_top(value: str) -> int:
    """The ``$top`` page size; Graph rejects values outside 1..999 with 400."""
    try:
        top = int(value)
    except ValueError:
        top = 0
    if not 1 <= top <= MAX_TOP:
        raise ValueError(f"Invalid value '{value}' for $top: expected 1 to {MAX_TOP}.")
    return top


def default_status(profile_id: str) -> dict[str, Any]:
    """A freshly synchronized profile, shaped like the example on Graph's reference page."""
    now = graph_timestamp(time.time_ns())
    return {
        "id": profile_id,
        "status": "success",
        "lastSynchronizationDateTime": now,
        "lastActivityDateTime": now,
        "errorCount": 0,
        "statusMessage": "Processed 0 in the last hour.\r\nUpdated 0 in the last hour.",
    }


def profile_resource(profile_id: str, display_name: str, state: str) -> dict[str, Any]:
    """An educationSynchronizationProfile with the properties a CSV profile has in Graph."""
    return {
        "id": profile_id,
        "displayName": display_name,
        "state": state,
        "dataProvider": {
            "@odata.type": "#microsoft.graph.educationCsvDataProvider",
            "customizations": None,
        },
        "expirationDate": "2027-06-30",
        "handleSpecialCharacterConstraint": False,
    }


# -- provisioning jobs (synchronizationJob, v1.0) -------------------------------------------

SYNCHRONIZATION_STATUS_CODES = ("NotConfigured", "NotRun", "Active", "Paused", "Quarantine")
QUARANTINE_REASONS = (
    "EncounteredBaseEscrowThreshold",
    "EncounteredTotalEscrowThreshold",
    "EncounteredEscrowProportionThreshold",
    "EncounteredQuarantineException",
    "Unknown",
    "QuarantinedOnDemand",
    "TooManyDeletes",
    "IngestionInterrupted",
)
# Quarantines caused by too many escrowed (failed) entries end an execution with entry-level
# errors; the others stop it outright.
ESCROW_QUARANTINE_REASONS = frozenset(
    {
        "EncounteredBaseEscrowThreshold",
        "EncounteredTotalEscrowThreshold",
        "EncounteredEscrowProportionThreshold",
    }
)
TROUBLESHOOTING_URL = (
    "https://learn.microsoft.com/entra/identity/app-provisioning/"
    "application-provisioning-quarantine-status"
)
DEFAULT_JOB_INTERVAL = "PT40M"
JOB_SETTINGS = (
    {"name": "AzureIngestionAttributeOptimization", "value": "False"},
    {"name": "LookaheadQueryEnabled", "value": "False"},
)
SECOND_NS = 1_000_000_000
MINUTE_NS = 60 * SECOND_NS
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS


def synchronization_error(
    code: str, message: str, *, tenant_actionable: bool = True
) -> dict[str, Any]:
    """A synchronizationError: what went wrong and whether the tenant's admin can fix it."""
    return {"code": code, "message": message, "tenantActionable": tenant_actionable}


def task_execution(
    state: str,
    began_ns: int,
    *,
    duration_seconds: int = 23,
    imported: int = 1241,
    exported: int = 3,
    escrowed: int = 0,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A synchronizationTaskExecution with every count Graph sends (all Int64).

    The activity identifier is derived from the start time, so that equal inputs give equal
    statuses (generated tenants stay deterministic).
    """
    return {
        "activityIdentifier": str(uuid.uuid5(ID_NAMESPACE, f"activity/{began_ns}")),
        "countEntitled": imported,
        "countEntitledForProvisioning": imported,
        "countEscrowed": escrowed,
        "countEscrowedRaw": escrowed,
        "countExported": exported,
        "countExports": exported,
        "countImported": imported,
        "countImportedDeltas": exported + escrowed,
        "countImportedReferenceDeltas": 0,
        "error": error,
        "state": state,
        "timeBegan": graph_timestamp(began_ns),
        "timeEnded": graph_timestamp(began_ns + duration_seconds * SECOND_NS + 1234500),
    }


def _job_status(
    code: str,
    now_ns: int,
    *,
    last: dict[str, Any] | None,
    last_successful: dict[str, Any] | None,
    failures: int = 0,
    quarantine: dict[str, Any] | None = None,
    progress: list[dict[str, Any]] | None = None,
    troubleshooting_url: str | None = None,
) -> dict[str, Any]:
    """A synchronizationStatus with every property of Graph's resource page, in its order."""
    steady = last_successful is not None
    return {
        "code": code,
        "countSuccessiveCompleteFailures": failures,
        "escrowsPruned": False,
        "lastExecution": last,
        "lastSuccessfulExecution": last_successful,
        "lastSuccessfulExecutionWithExports": (
            task_execution("Succeeded", now_ns - 2 * HOUR_NS - 17 * MINUTE_NS, exported=12)
            if steady
            else None
        ),
        "progress": progress or [],
        "quarantine": quarantine,
        "steadyStateFirstAchievedTime": (
            graph_timestamp(now_ns - 41 * DAY_NS - 3 * HOUR_NS) if steady else None
        ),
        "steadyStateLastAchievedTime": (
            last_successful["timeEnded"] if last_successful is not None else None
        ),
        "synchronizedEntryCountByType": (
            [{"key": "user to User", "value": 1204}, {"key": "group to Group", "value": 37}]
            if steady
            else []
        ),
        "troubleshootingUrl": troubleshooting_url,
    }


def healthy_job_status(*, now_ns: int | None = None) -> dict[str, Any]:
    """An Active job whose last cycle, 12 minutes ago, succeeded: the steady state."""
    now = time.time_ns() if now_ns is None else now_ns
    last = task_execution("Succeeded", now - 12 * MINUTE_NS, exported=0)
    return _job_status("Active", now, last=last, last_successful=dict(last))


def quarantined_job_status(
    reason: str = "EncounteredEscrowProportionThreshold", *, now_ns: int | None = None
) -> dict[str, Any]:
    """A job in quarantine: Graph backs off and retries at ``nextAttempt``.

    Escrow thresholds end the last execution with entry-level errors (many escrowed entries);
    the other reasons fail it outright.
    """
    now = time.time_ns() if now_ns is None else now_ns
    began = now - 3 * HOUR_NS - 4 * MINUTE_NS
    if reason in ESCROW_QUARANTINE_REASONS:
        last = task_execution("EntryLevelErrors", began, escrowed=687, exported=0)
        message = (
            "The job was quarantined: too many entries could not be provisioned (escrowed).\r\n"
            "Review the provisioning logs, fix the attribute mappings, then restart the job."
        )
    else:
        last = task_execution(
            "Failed",
            began,
            exported=0,
            error=synchronization_error(reason, f"The job was quarantined ({reason})."),
        )
        message = f"The job was quarantined ({reason}).\r\nRestart the job once it is fixed."
    quarantine = {
        "currentBegan": graph_timestamp(began + 31 * SECOND_NS),
        "nextAttempt": graph_timestamp(now + 9 * HOUR_NS + 12 * MINUTE_NS),
        "reason": reason,
        "seriesBegan": graph_timestamp(began + 31 * SECOND_NS),
        "seriesCount": 1,
        "error": synchronization_error(reason, message),
    }
    return _job_status(
        "Quarantine",
        now,
        last=last,
        last_successful=task_execution("Succeeded", now - 5 * HOUR_NS),
        quarantine=quarantine,
        troubleshooting_url=TROUBLESHOOTING_URL,
    )


def failed_job_status(*, now_ns: int | None = None) -> dict[str, Any]:
    """An Active job whose last three cycles failed outright (the target refused us)."""
    now = time.time_ns() if now_ns is None else now_ns
    error = synchronization_error(
        "SystemForCrossDomainIdentityManagementCredentialValidationUnavailable",
        "We could not reach the application's SCIM endpoint with the configured credentials."
        "\r\nCheck the tenant URL and the secret token, then test the connection.",
    )
    last = task_execution("Failed", now - 8 * MINUTE_NS, imported=0, exported=0, error=error)
    return _job_status(
        "Active",
        now,
        last=last,
        last_successful=task_execution("Succeeded", now - 2 * HOUR_NS),
        failures=3,
        troubleshooting_url=TROUBLESHOOTING_URL,
    )


def entry_level_errors_job_status(*, now_ns: int | None = None) -> dict[str, Any]:
    """An Active job whose last cycle ran but escrowed some entries (entry-level errors)."""
    now = time.time_ns() if now_ns is None else now_ns
    last = task_execution("EntryLevelErrors", now - 15 * MINUTE_NS, escrowed=12, exported=5)
    return _job_status(
        "Active",
        now,
        last=last,
        last_successful=task_execution("Succeeded", now - 55 * MINUTE_NS),
    )


def job_status(code: str, *, now_ns: int | None = None) -> dict[str, Any]:
    """A status for any synchronizationStatusCode.

    ``Active`` and ``Quarantine`` are :func:`healthy_job_status` and
    :func:`quarantined_job_status`; ``Paused`` is a steady job stopped mid-cycle (with progress);
    ``NotRun`` and ``NotConfigured`` have never run, so every execution is null. Other codes
    (future members) get a healthy status under that code.
    """
    now = time.time_ns() if now_ns is None else now_ns
    match code:
        case "Active":
            return healthy_job_status(now_ns=now)
        case "Quarantine":
            return quarantined_job_status(now_ns=now)
        case "NotRun" | "NotConfigured":
            return _job_status(code, now, last=None, last_successful=None)
        case "Paused":
            status = healthy_job_status(now_ns=now)
            status["code"] = code
            status["progress"] = [
                {
                    "completedUnits": 420,
                    "progressObservationDateTime": graph_timestamp(now - 6 * MINUTE_NS),
                    "totalUnits": 1241,
                    "units": "Entries",
                }
            ]
            return status
        case _:
            status = healthy_job_status(now_ns=now)
            status["code"] = code
            return status


def default_schedule(status: Mapping[str, Any]) -> dict[str, Any]:
    """A synchronizationSchedule: every 40 minutes, stopped while the job is paused."""
    state = "Paused" if status.get("code") == "Paused" else "Active"
    return {"expiration": None, "interval": DEFAULT_JOB_INTERVAL, "state": state}


def job_resource(
    job_id: str,
    template_id: str,
    status: dict[str, Any],
    schedule: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A synchronizationJob as Graph lists it."""
    return {
        "id": job_id,
        "templateId": template_id,
        "schedule": schedule if schedule is not None else default_schedule(status),
        "status": status,
        "synchronizationJobSettings": [dict(setting) for setting in JOB_SETTINGS],
    }


# -- Industry Data runs (industryDataRun, beta) ---------------------------------------------

RUN_STATUSES = (
    "running",
    "failed",
    "completed",
    "completedWithErrors",
    "completedWithWarnings",
    "unknownFutureValue",
)
INBOUND_ACTIVITY_TYPE = "#microsoft.graph.industryData.inboundActivityResults"
RUN_TYPE = "#microsoft.graph.industryData.industryDataRun"


def blocking_error(
    code: str = "SourceSystemUnreachable",
    message: str = (
        "The inbound flow could not read from the source system.\r\n"
        "Check the connector's credentials, then wait for the next run."
    ),
    target: str | None = None,
) -> dict[str, Any]:
    """A publicError that stopped a run, with the properties Graph always sends."""
    return {"code": code, "message": message, "target": target, "details": [], "innerError": None}


def run_resource(
    run_id: str,
    display_name: str,
    status: str,
    start: str | None,
    end: str | None,
    error: dict[str, Any] | None,
) -> dict[str, Any]:
    """An industryDataRun; ``endDateTime`` stays null while it runs."""
    return {
        "@odata.type": RUN_TYPE,
        "id": run_id,
        "displayName": display_name,
        "startDateTime": start,
        "endDateTime": end,
        "status": status,
        "blockingError": error,
    }


def statistics_status(errors: int, warnings: int) -> str:
    """How a finished run with these counts ends."""
    if errors:
        return "completedWithErrors"
    return "completedWithWarnings" if warnings else "completed"


def entity_counts(active: int, inactive: int) -> dict[str, int]:
    """An industryDataRunEntityCountMetric."""
    return {"active": active, "inactive": inactive, "total": active + inactive}


def run_statistics(
    errors: int = 0,
    warnings: int = 0,
    *,
    run_id: str = "",
    status: str | None = None,
    people: int = 1250,
    groups: int = 86,
    memberships: int = 3420,
    organizations: int = 4,
) -> dict[str, Any]:
    """An industryDataRunStatistics with one inbound flow, shaped like Graph's.

    As in Graph, ``inboundTotals`` carries plain Int32 counts (active entities) while each
    ``inboundActivityResults`` carries {active, inactive, total} metrics. ``status`` defaults
    to what ``errors`` and ``warnings`` imply for a finished run; ``run_id`` may be left empty
    (the tenant answers with the run's id then).
    """
    run_status = status if status is not None else statistics_status(errors, warnings)
    activity_status = "inProgress" if run_status == "running" else run_status
    students = people * 4 // 5
    matched = [{"role": "student", "count": students}, {"role": "teacher", "count": people // 6}]
    unmatched_count = people - students - people // 6
    unmatched = [{"role": "staff", "count": unmatched_count}] if unmatched_count else []
    activity = {
        "@odata.type": INBOUND_ACTIVITY_TYPE,
        "activityId": str(uuid.uuid5(ID_NAMESPACE, f"inbound-flow/{run_id}")),
        "displayName": "Inbound SIS flow",
        "status": activity_status,
        "errors": errors,
        "warnings": warnings,
        "groups": entity_counts(groups, groups // 10),
        "matchedPeopleByRole": matched,
        "memberships": entity_counts(memberships, memberships // 20),
        "organizations": entity_counts(organizations, 0),
        "people": entity_counts(people, people // 25),
        "unmatchedPeopleByRole": unmatched,
    }
    return {
        "runId": run_id,
        "status": run_status,
        "activityStatistics": [activity],
        "inboundTotals": {
            "errors": errors,
            "warnings": warnings,
            "groups": groups,
            "matchedPeopleByRole": [dict(metric) for metric in matched],
            "memberships": memberships,
            "organizations": organizations,
            "people": people,
            "unmatchedPeopleByRole": [dict(metric) for metric in unmatched],
        },
    }


def empty_run_statistics(run_id: str, status: str) -> dict[str, Any]:
    """What getStatistics answers before a run has counted anything: zero totals."""
    return {
        "runId": run_id,
        "status": status,
        "activityStatistics": [],
        "inboundTotals": {
            "errors": 0,
            "warnings": 0,
            "groups": 0,
            "matchedPeopleByRole": [],
            "memberships": 0,
            "organizations": 0,
            "people": 0,
            "unmatchedPeopleByRole": [],
        },
    }


TIMESTAMP_PARTS = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?")


def timestamp_sort_key(value: object) -> tuple[int, str]:
    """Order Graph timestamps whatever their fraction's length; non-timestamps sort oldest."""
    if isinstance(value, str):
        match = TIMESTAMP_PARTS.match(value)
        if match is not None:
            return 1, f"{match[1]}.{(match[2] or '')[:9]:0<9}"
    return 0, ""


@dataclass(frozen=True)
class RecordedRequest:
    """One Graph request as the tenant received it, for tests that check what the app sent.

    ``batched`` marks a sub-request of a ``$batch`` (the envelope is recorded too, unmarked).
    """

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]
    time: float
    batched: bool = False

    def to_json(self) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": headers,
            "time": self.time,
            "batched": self.batched,
        }


@dataclass
class Fault:
    """A misbehaviour injected for requests whose path fully matches ``path`` (a regex).

    ``skip`` matching requests are answered normally first (to fail page 2 of a listing,
    say); then ``times`` is how many requests it answers before it lapses (None: forever);
    ``hits`` counts the requests it has answered so far.
    """

    path: str
    _: KW_ONLY
    status: int = 500
    retry_after: float | None = None
    times: int | None = 1
    delay: float = 0.0
    malformed: bool = False
    code: str | None = None
    message: str | None = None
    method: str = "GET"
    skip: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    hits: int = 0
    skipped: int = field(default=0, init=False)
    pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            self.pattern = re.compile(self.path)
        except (re.error, TypeError) as exc:
            raise ValueError(f"Fault path {self.path!r} is not a valid regex: {exc}") from exc
        if not is_answerable_status(self.status):
            raise ValueError(f"Fault status must be 200 or 400 to 599, not {self.status!r}.")
        if self.times is not None and not (isinstance(self.times, int) and self.times >= 0):
            raise ValueError(f"Fault times must be null or a count, not {self.times!r}.")
        if not (isinstance(self.skip, int) and self.skip >= 0):
            raise ValueError(f"Fault skip must be a count, not {self.skip!r}.")
        for name in ("delay", "retry_after"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and value >= 0):
                raise ValueError(f"Fault {name} must be a number of seconds, not {value!r}.")
        if not isinstance(self.method, str):
            raise ValueError(f"Fault method must be a string, not {self.method!r}.")
        self.method = self.method.upper()

    def applies_to(self, method: str, path: str) -> bool:
        live = self.times is None or self.hits < self.times
        return live and method == self.method and self.pattern.fullmatch(path) is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "status": self.status,
            "retryAfter": self.retry_after,
            "times": self.times,
            "skip": self.skip,
            "delay": self.delay,
            "malformed": self.malformed,
            "code": self.code,
            "message": self.message,
            "method": self.method,
            "hits": self.hits,
        }


@dataclass(frozen=True)
class Refusal:
    """The error a retired Graph API gives to every request under it."""

    status: int
    code: str
    message: str

    def __post_init__(self) -> None:
        if not (is_answerable_status(self.status) and self.status != 200):
            raise ValueError(f"A refusal status must be 400 to 599, not {self.status!r}.")
        if not (isinstance(self.code, str) and isinstance(self.message, str)):
            raise ValueError("A refusal needs a string code and message.")


class GraphAnswer(NamedTuple):
    """A complete Graph response, independent of aiohttp so that $batch can embed it."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class GraphCall:
    """What a route handler needs to know about the request it answers."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: CIMultiDict[str]
    base_url: str
    body: bytes = b""
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def client_request_id(self) -> str:
        """Graph echoes the caller's id, or reuses its own request id when none was sent."""
        return self.headers.get("client-request-id") or self.request_id

    def answer(self, status: int, payload: Any, *, content_type: str = GRAPH_JSON) -> GraphAnswer:
        try:
            body = json.dumps(payload, ensure_ascii=False).encode()
        except (
            UnicodeEncodeError
        ):  # a lone surrogate: JSON's \u escape carries it, as Graph's would
            body = json.dumps(payload).encode()
        return GraphAnswer(status, self._headers(content_type), body)

    def malformed(self) -> GraphAnswer:
        return GraphAnswer(200, self._headers(PLAIN_JSON), MALFORMED_BODY)

    def error(
        self,
        status: int,
        code: str | None = None,
        message: str | None = None,
        *,
        retry_after: float | None = None,
    ) -> GraphAnswer:
        default_code, default_message = default_error(status)
        payload = {
            "error": {
                "code": code or default_code,
                "message": message or default_message,
                "innerError": {
                    "date": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}",
                    "request-id": self.request_id,
                    "client-request-id": self.client_request_id,
                },
            }
        }
        answer = self.answer(status, payload, content_type=PLAIN_JSON)
        if retry_after is not None:
            answer.headers["Retry-After"] = retry_after_value(retry_after)
        return answer

    def _headers(self, content_type: str) -> dict[str, str]:
        return {
            "Content-Type": content_type,
            "request-id": self.request_id,
            "client-request-id": self.client_request_id,
        }


RouteHandler = Callable[[GraphCall, re.Match[str]], Awaitable[GraphAnswer]]


class Route(NamedTuple):
    method: str
    pattern: re.Pattern[str]
    handler: RouteHandler


class BatchStep(NamedTuple):
    """One sub-request of a ``$batch``, validated."""

    id: str
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def required_string(request: Mapping[str, Any], name: str) -> str:
    """A mandatory property of a batch request; ValueError when missing or empty."""
    value = request.get(name)
    if not (isinstance(value, str) and value):
        raise ValueError(f"Each batch request needs a non-empty string '{name}'.")
    return value


def parse_batch(raw: bytes) -> list[BatchStep]:
    """The sub-requests of a ``$batch`` body; ValueError (Graph's 400 message) when invalid.

    Graph wants a JSON object whose ``requests`` lists 1 to 20 objects, each with a unique
    ``id``, a ``method`` and a relative ``url``; ``headers`` and ``body`` are optional.
    ``dependsOn`` is accepted and needs no handling here: sub-requests are answered in order.
    """
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("Invalid batch payload format.") from None
    requests = document.get("requests") if isinstance(document, dict) else None
    if not isinstance(requests, list) or not requests:
        raise ValueError("Invalid batch payload format: 'requests' must be a non-empty array.")
    if len(requests) > MAX_BATCH_REQUESTS:
        raise ValueError(
            f"Number of batch request steps exceeds the maximum of {MAX_BATCH_REQUESTS}."
        )
    steps: list[BatchStep] = []
    seen: set[str] = set()
    for request in requests:
        if not isinstance(request, dict):
            raise ValueError("Invalid batch payload format: each request must be an object.")
        step_id, method, url = (required_string(request, name) for name in ("id", "method", "url"))
        if step_id in seen:
            raise ValueError(f"Batch request ids must be unique; '{step_id}' is repeated.")
        seen.add(step_id)
        if urllib.parse.urlsplit(url).scheme:
            raise ValueError(f"Batch request '{step_id}': the url must be relative.")
        headers = request.get("headers", {})
        if not (isinstance(headers, dict) and all(isinstance(v, str) for v in headers.values())):
            raise ValueError(f"Batch request '{step_id}': 'headers' must map names to strings.")
        body = json.dumps(request["body"]).encode() if request.get("body") is not None else b""
        steps.append(BatchStep(step_id, method.upper(), url, headers, body))
    return steps


def batch_response(step_id: str, answer: GraphAnswer) -> dict[str, Any]:
    """One entry of a ``$batch`` response: the sub-answer with its body as parsed JSON.

    A body that is not JSON (a ``malformed`` fault) is embedded as a JSON string, so that the
    envelope stays valid while the client still cannot read the object it asked for.
    """
    response: dict[str, Any] = {
        "id": step_id,
        "status": answer.status,
        "headers": dict(answer.headers),
    }
    if answer.body:
        try:
            response["body"] = json.loads(answer.body)
        except ValueError:
            response["body"] = answer.body.decode(errors="replace")
    return response


class RequestBudget:
    """A token bucket: ``rate`` requests per second, bursts of up to ``rate`` (at least 1).

    A throttled request takes no token, as a request Graph turned away costs it nothing.
    ``rate`` 0 throttles everything.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0) if rate > 0 else 0.0
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()

    def take(self) -> float | None:
        """None when the request may pass, else the seconds until a token is due."""
        now = self._clock()
        if self.rate > 0:
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        return (1 - self._tokens) / self.rate if self.rate > 0 else math.inf


class SimulatedTenant:
    """An in-memory Graph tenant served over HTTP by aiohttp.

    ``page_size`` is the listing page size when the client sends no ``$top``, and
    ``max_page_size`` the largest page it serves whatever ``$top`` asks (server-driven paging,
    as Graph does: a client must follow nextLinks even after asking for 999); ``latency`` is
    the number of seconds added to every Graph HTTP response (once per ``$batch``, not per
    sub-request). ``rate_limit`` is the throttling budget in requests per second (None: no
    limit): every Graph request beyond it, top-level or batched, answers 429 with a
    ``Retry-After`` of at least ``throttle_retry_after`` seconds. All may be changed at any time.
    """

    def __init__(
        self,
        page_size: int = 100,
        latency: float = 0.0,
        rate_limit: float | None = None,
        throttle_retry_after: int = 1,
    ) -> None:
        if not 1 <= page_size <= MAX_TOP:
            raise ValueError(f"page_size must be 1 to {MAX_TOP}, not {page_size}.")
        self.page_size = page_size
        self.max_page_size = MAX_TOP
        self.latency = latency
        self._budget: RequestBudget | None = None
        self.rate_limit = rate_limit
        self._throttle_retry_after = 1
        self.throttle_retry_after = throttle_retry_after
        self._request_count = 0
        self._subrequest_count = 0
        self._throttled_count = 0
        self._profiles: dict[str, dict[str, dict[str, Any]]] = {}
        # service principal id -> job id -> synchronizationJob
        self._service_principals: dict[str, dict[str, dict[str, Any]]] = {}
        # run id -> {"run": industryDataRun, "statistics": industryDataRunStatistics | None}
        self._runs: dict[str, dict[str, Any]] = {}
        self._newest_runs: list[str] | None = None  # run ids newest first, until runs change
        self._faults: list[Fault] = []
        self._refusals: dict[str, Refusal] = {}
        self._requests: list[RecordedRequest] = []
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        # Set while stopping, so that slow answers end at once instead of holding shutdown.
        self._stopping = asyncio.Event()
        profile_path = rf"{PROFILES_PATH}/(?P<id>[^/]+)"
        jobs_path = rf"{SERVICE_PRINCIPALS_PATH}/(?P<sp>[^/]+)/synchronization/jobs"
        run_path = rf"{RUNS_PATH}/(?P<id>[^/]+)"
        self._routes: tuple[Route, ...] = (
            Route("GET", re.compile(PROFILES_PATH), self._serve_profile_list),
            Route("GET", re.compile(profile_path), self._serve_profile),
            Route("GET", re.compile(rf"{profile_path}/profileStatus"), self._serve_profile_status),
            Route("GET", re.compile(jobs_path), self._serve_job_list),
            Route("GET", re.compile(rf"{jobs_path}/(?P<job>[^/]+)"), self._serve_job),
            Route("GET", re.compile(RUNS_PATH), self._serve_run_list),
            Route("GET", re.compile(run_path), self._serve_run),
            Route("GET", re.compile(rf"{run_path}/getStatistics"), self._serve_run_statistics),
            Route("POST", BATCH_PATH, self._serve_batch),
        )

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the running tenant, without a version segment."""
        if self._url is None:
            raise RuntimeError("The simulated tenant is not running.")
        return self._url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 picks a free port) and return the base URL."""
        if self._runner is not None:
            raise RuntimeError("The simulated tenant is already running.")
        self._stopping.clear()
        runner = web.AppRunner(self._build_app(), shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_port = runner.addresses[0][1]
        url_host = f"[{host}]" if ":" in host else host
        self._url = f"http://{url_host}:{bound_port}"
        logger.info("Simulated Graph tenant listening on %s", self._url)
        return self._url

    async def stop(self) -> None:
        """Stop serving; requests still waiting on a delay or latency are answered at once."""
        if self._runner is None:
            return
        self._stopping.set()
        await self._runner.cleanup()
        self._runner = None
        self._url = None
        logger.info("Simulated Graph tenant stopped")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- tenant data -------------------------------------------------------------------------

    def add_profile(
        self,
        id: str,  # Graph's name for it, so that callers may pass id=...
        display_name: str = "",
        state: str = "provisioned",
        status: dict[str, Any] | None = None,
    ) -> None:
        """Add or replace a profile; ``status`` is kept verbatim (a realistic success if None)."""
        self._profiles[id] = {
            "profile": profile_resource(id, display_name or id, state),
            "status": copy.deepcopy(status) if status is not None else default_status(id),
        }

    def set_status(self, profile_id: str, /, **changes: Any) -> None:
        """Merge ``changes`` into a profile's status, as the sync engine would update it."""
        self._profiles[profile_id]["status"].update(copy.deepcopy(changes))

    def get_profile(self, profile_id: str) -> dict[str, dict[str, Any]]:
        """A copy of one entry, {"profile": ..., "status": ...} (KeyError for an unknown id)."""
        return copy.deepcopy(self._profiles[profile_id])

    def remove_profile(self, profile_id: str) -> None:
        del self._profiles[profile_id]

    @property
    def profiles(self) -> dict[str, dict[str, dict[str, Any]]]:
        """A snapshot: id -> {"profile": ..., "status": ...}, in insertion order."""
        return copy.deepcopy(self._profiles)

    def add_service_principal(self, sp_id: str) -> None:
        """Make a service principal known (with no jobs); one that exists keeps its jobs."""
        self._service_principals.setdefault(sp_id, {})

    def add_job(
        self,
        sp_id: str,
        job_id: str | None = None,
        *,
        template_id: str = "scim",
        status: dict[str, Any] | None = None,
        schedule: dict[str, Any] | None = None,
    ) -> str:
        """Add or replace a provisioning job, creating its service principal if needed.

        ``status`` is kept verbatim (a realistic healthy Active status if None). Without a
        ``job_id``, one is made the way Graph makes them: ``<templateId>.<hex>.<hex>``.
        """
        if job_id is None:
            job_id = f"{template_id}.{uuid.uuid4().hex}.{uuid.uuid4().hex}"
        job_status = json_copy(status) if status is not None else healthy_job_status()
        jobs = self._service_principals.setdefault(sp_id, {})
        jobs[job_id] = job_resource(job_id, template_id, job_status, json_copy(schedule))
        return job_id

    def set_job_status(self, sp_id: str, job_id: str, /, **changes: Any) -> None:
        """Merge top-level keys into a job's status (KeyError for an unknown job)."""
        self._service_principals[sp_id][job_id]["status"].update(json_copy(changes))

    def get_job(self, sp_id: str, job_id: str) -> dict[str, Any]:
        """A copy of one synchronizationJob (KeyError for an unknown id)."""
        return json_copy(self._service_principals[sp_id][job_id])

    def get_service_principal(self, sp_id: str) -> dict[str, dict[str, Any]]:
        """A copy of one service principal's jobs, job id -> job (KeyError for an unknown id)."""
        return json_copy(self._service_principals[sp_id])

    def remove_job(self, sp_id: str, job_id: str) -> None:
        del self._service_principals[sp_id][job_id]

    def remove_service_principal(self, sp_id: str) -> None:
        del self._service_principals[sp_id]

    @property
    def service_principals(self) -> dict[str, dict[str, dict[str, Any]]]:
        """A snapshot: service principal id -> job id -> job, in insertion order."""
        return json_copy(self._service_principals)

    def add_run(
        self,
        run_id: str | None = None,
        *,
        display_name: str = "Inbound flow run",
        status: str = "running",
        start: str | None = None,
        end: str | None = None,
        blocking_error: dict[str, Any] | None = None,
        statistics: dict[str, Any] | None = None,
    ) -> str:
        """Add or replace an Industry Data run; timestamps are Graph strings (start: now).

        ``statistics`` (see :func:`run_statistics`) is what ``getStatistics`` answers; a run
        without them answers zero totals.
        """
        if run_id is None:
            run_id = str(uuid.uuid4())
        begun = start if start is not None else graph_timestamp(time.time_ns())
        self._runs[run_id] = {
            "run": run_resource(
                run_id, display_name, status, begun, end, json_copy(blocking_error)
            ),
            "statistics": json_copy(statistics),
        }
        self._newest_runs = None
        return run_id

    def set_run(self, run_id: str, /, **changes: Any) -> None:
        """Merge Graph properties (``status``, ``endDateTime``...) into a run (KeyError if none)."""
        self._runs[run_id]["run"].update(json_copy(changes))
        self._newest_runs = None

    def set_run_statistics(self, run_id: str, statistics: dict[str, Any] | None) -> None:
        """Replace what ``getStatistics`` answers for a run (None: zero totals again)."""
        self._runs[run_id]["statistics"] = json_copy(statistics)

    def get_run(self, run_id: str) -> dict[str, Any]:
        """A copy of one entry, {"run": ..., "statistics": ...} (KeyError for an unknown id)."""
        return json_copy(self._runs[run_id])

    def remove_run(self, run_id: str) -> None:
        del self._runs[run_id]
        self._newest_runs = None

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        """A snapshot: id -> {"run": ..., "statistics": ...}, in insertion order."""
        return json_copy(self._runs)

    def newest_run_id(self) -> str | None:
        """The run Graph lists first (latest ``startDateTime``), None without runs."""
        order = self._run_order()
        return order[0] if order else None

    def _run_order(self) -> list[str]:
        """Run ids newest first, as Graph lists them; cached until a run changes.

        The cache keeps paging through 10,000 runs from sorting them again for every page.
        Equal start times keep insertion order.
        """
        if self._newest_runs is None:
            self._newest_runs = sorted(
                self._runs,
                key=lambda run_id: timestamp_sort_key(
                    self._runs[run_id]["run"].get("startDateTime")
                ),
                reverse=True,
            )
        return self._newest_runs

    # -- throttling --------------------------------------------------------------------------

    @property
    def rate_limit(self) -> float | None:
        """Requests per second a client may make (bursts of as many); None: unlimited."""
        return self._budget.rate if self._budget is not None else None

    @rate_limit.setter
    def rate_limit(self, value: float | None) -> None:
        if value is not None and not (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value >= 0
        ):
            raise ValueError(f"rate_limit must be null or a number >= 0, not {value!r}.")
        # A new budget starts with a full bucket.
        self._budget = RequestBudget(float(value)) if value is not None else None

    @property
    def throttle_retry_after(self) -> int:
        """The least ``Retry-After`` (whole seconds) of a 429 for an exhausted budget."""
        return self._throttle_retry_after

    @throttle_retry_after.setter
    def throttle_retry_after(self, value: int) -> None:
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise ValueError(f"throttle_retry_after must be a whole number >= 1, not {value!r}.")
        self._throttle_retry_after = value

    def _throttled_for(self) -> int | None:
        """None when the budget admits one more request, else the Retry-After to send.

        It is never shorter than the wait for the next token, so that a client that honours
        it is not throttled again at once.
        """
        if self._budget is None:
            return None
        wait = self._budget.take()
        if wait is None:
            return None
        if not math.isfinite(wait):
            return self._throttle_retry_after
        return max(self._throttle_retry_after, math.ceil(wait))

    @property
    def request_count(self) -> int:
        """Graph HTTP requests received (a ``$batch`` counts 1; control calls do not count)."""
        return self._request_count

    @property
    def subrequest_count(self) -> int:
        """Sub-requests received inside ``$batch`` requests."""
        return self._subrequest_count

    @property
    def throttled_count(self) -> int:
        """429 answers given: top-level and batched, from the budget or from a fault."""
        return self._throttled_count

    def reset_counters(self) -> None:
        self._request_count = self._subrequest_count = self._throttled_count = 0

    # -- misbehaviour ------------------------------------------------------------------------

    def add_fault(
        self,
        path: str,
        *,
        status: int = 500,
        retry_after: float | None = None,
        times: int | None = 1,
        delay: float = 0.0,
        malformed: bool = False,
        code: str | None = None,
        message: str | None = None,
        method: str = "GET",
        skip: int = 0,
    ) -> Fault:
        """Misbehave for matching requests; the earliest live fault wins when several match."""
        fault = Fault(
            path,
            status=status,
            retry_after=retry_after,
            times=times,
            delay=delay,
            malformed=malformed,
            code=code,
            message=message,
            method=method,
            skip=skip,
        )
        self._faults.append(fault)
        return fault

    @property
    def faults(self) -> list[Fault]:
        return list(self._faults)

    def clear_faults(self) -> None:
        self._faults.clear()

    def refuse_source(
        self,
        name: str,
        status: int = 400,
        code: str = "BadRequest",
        message: str | None = None,
    ) -> None:
        """Answer every request of a Graph API with one error, as Graph does once it retires.

        The default message names the API's segment, e.g. "Resource not found for the segment
        'synchronizationProfiles'." for ``education``.
        """
        self._source_prefix(name)
        if message is None:
            message = f"Resource not found for the segment '{SOURCE_SEGMENTS[name]}'."
        self._refusals[name] = Refusal(status, code, message)
        logger.info("Refusing source %s with %s %s", name, status, code)

    def restore_source(self, name: str) -> None:
        self._source_prefix(name)
        if self._refusals.pop(name, None) is not None:
            logger.info("Source %s restored", name)

    @staticmethod
    def _source_prefix(name: str) -> str:
        try:
            return SOURCE_PREFIXES[name]
        except KeyError:
            raise ValueError(f"Unknown source {name!r}; known: {sorted(SOURCE_PREFIXES)}") from None

    # -- request log -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every Graph request received (control API calls excluded), oldest first."""
        return list(self._requests)

    def clear_requests(self) -> None:
        self._requests.clear()

    # -- HTTP plumbing -----------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application()
        app.add_routes(ControlApi(self).routes())
        app.router.add_route("*", "/{tail:.*}", self._handle_graph)
        return app

    async def _handle_graph(self, request: web.Request) -> web.Response:
        headers = CIMultiDict(request.headers)
        query = dict(request.query)
        self._requests.append(
            RecordedRequest(request.method, request.path, query, headers, time.time())
        )
        self._request_count += 1
        body = await request.read() if request.can_read_body else b""
        await self._pause(self.latency)
        answer = await self._answer(request.method, request.path, query, headers, body)
        if answer.status == 429:
            self._throttled_count += 1
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake up as soon as the tenant stops."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    # -- Graph -------------------------------------------------------------------------------

    async def _answer(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes = b"",
    ) -> GraphAnswer:
        """Answer one Graph request: the throttling budget first (a throttled request never
        reaches the service), then an injected fault, then a refusal, then the route.

        A ``$batch`` envelope does not use the budget: each of its sub-requests does, when the
        batch handler answers it through this same method.
        """
        all_headers = CIMultiDict(headers)
        call = GraphCall(
            method.upper(), path, query, all_headers, self._base_url(all_headers), body
        )
        if BATCH_PATH.fullmatch(path) is None:
            retry_after = self._throttled_for()
            if retry_after is not None:
                logger.info("Budget exhausted: %s %s throttled", call.method, path)
                return call.error(429, retry_after=retry_after)
        fault = next((f for f in self._faults if f.applies_to(call.method, path)), None)
        if fault is not None and fault.skipped < fault.skip:
            fault.skipped += 1
            fault = None
        if fault is not None:
            fault.hits += 1
            logger.info("Fault %s answers %s %s", fault.id, call.method, path)
            await self._pause(fault.delay)
            if fault.malformed:
                return call.malformed()
            if fault.status != 200:
                return call.error(
                    fault.status, fault.code, fault.message, retry_after=fault.retry_after
                )
        for name, refusal in self._refusals.items():
            if path.startswith(SOURCE_PREFIXES[name]):
                return call.error(refusal.status, refusal.code, refusal.message)
        return await self._route(call)

    def _base_url(self, headers: CIMultiDict[str]) -> str:
        """The origin the client used, so that nextLinks work whatever name it dialled."""
        host = headers.get("Host")
        return f"http://{host}" if host else self.url

    async def _route(self, call: GraphCall) -> GraphAnswer:
        path_known = False
        for route in self._routes:
            match = route.pattern.fullmatch(call.path)
            if match is None:
                continue
            if route.method == call.method:
                return await route.handler(call, match)
            path_known = True
        if path_known:
            return call.error(405)
        segment = call.path.rstrip("/").rsplit("/", 1)[-1]
        return call.error(404, message=f"Resource not found for the segment '{segment}'.")

    async def _serve_profile_list(self, call: GraphCall, _match: re.Match[str]) -> GraphAnswer:
        context = f"{call.base_url}/beta/$metadata#education/synchronizationProfiles"
        ids = list(self._profiles)
        return self._page(
            call, ids, lambda profile_id: self._profiles[profile_id]["profile"], context
        )

    def _page(
        self,
        call: GraphCall,
        keys: Sequence[str],
        item: Callable[[str], dict[str, Any]],
        context: str,
    ) -> GraphAnswer:
        """One page of a listing, with an opaque nextLink to the same path when more remain.

        Only the page's items are looked up, and nothing is copied: json.dumps reads the
        stored resources directly, which keeps large tenants cheap to page through.
        """
        try:
            offset, top = self._page_window(call.query)
        except ValueError as exc:
            return call.error(400, "BadRequest", str(exc))
        payload: dict[str, Any] = {
            "@odata.context": context,
            "value": [item(key) for key in keys[offset : offset + top]],
        }
        if offset + top < len(keys):
            token = encode_skiptoken(offset + top, top)
            link_path = urllib.parse.quote(call.path, safe="/$'(),=")
            payload["@odata.nextLink"] = f"{call.base_url}{link_path}?$skiptoken={token}"
        return call.answer(200, payload)

    def _page_window(self, query: Mapping[str, str]) -> tuple[int, int]:
        """(offset, page size): the skiptoken carries both; an explicit $top overrides size,
        up to ``max_page_size``."""
        offset, top = 0, self.page_size
        if "$skiptoken" in query:
            offset, top = decode_skiptoken(query["$skiptoken"])
        if "$top" in query:
            top = parse_top(query["$top"])
        return offset, min(top, self.max_page_size)

    async def _serve_profile(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        entry = self._profiles.get(match["id"])
        if entry is None:
            return self._profile_not_found(call, match["id"])
        context = f"{call.base_url}/beta/$metadata#education/synchronizationProfiles/$entity"
        return call.answer(200, {"@odata.context": context, **entry["profile"]})

    async def _serve_profile_status(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        profile_id = match["id"]
        entry = self._profiles.get(profile_id)
        if entry is None:
            return self._profile_not_found(call, profile_id)
        status = dict(entry["status"])
        hidden = status.get("status") in EVOLVABLE_STATUS_MEMBERS
        if hidden and not prefers_unknown_enum_members(call.headers):
            status["status"] = "unknownFutureValue"
        context = (
            f"{call.base_url}/beta/$metadata#education/synchronizationProfiles"
            f"('{profile_id}')/profileStatus/$entity"
        )
        return call.answer(200, {"@odata.context": context, **status})

    @staticmethod
    def _profile_not_found(call: GraphCall, profile_id: str) -> GraphAnswer:
        message = f"The synchronization profile '{profile_id}' was not found."
        return call.error(404, "ResourceNotFound", message)

    # Provisioning jobs ------------------------------------------------------------------------

    async def _serve_job_list(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        sp_id = match["sp"]
        jobs = self._service_principals.get(sp_id)
        if jobs is None:
            return self._directory_object_not_found(call, sp_id)
        context = (
            f"{call.base_url}/v1.0/$metadata#servicePrincipals('{sp_id}')/synchronization/jobs"
        )
        return self._page(call, list(jobs), jobs.__getitem__, context)

    async def _serve_job(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        sp_id, job_id = match["sp"], match["job"]
        jobs = self._service_principals.get(sp_id)
        if jobs is None:
            return self._directory_object_not_found(call, sp_id)
        job = jobs.get(job_id)
        if job is None:
            return self._directory_object_not_found(call, job_id)
        context = (
            f"{call.base_url}/v1.0/$metadata#servicePrincipals('{sp_id}')"
            "/synchronization/jobs/$entity"
        )
        return call.answer(200, {"@odata.context": context, **job})

    @staticmethod
    def _directory_object_not_found(call: GraphCall, object_id: str) -> GraphAnswer:
        """Graph's answer for an unknown service principal (and here, for an unknown job)."""
        message = (
            f"Resource '{object_id}' does not exist or one of its queried reference-property "
            "objects are not present."
        )
        return call.error(404, "Request_ResourceNotFound", message)

    # Industry Data runs -----------------------------------------------------------------------

    async def _serve_run_list(self, call: GraphCall, _match: re.Match[str]) -> GraphAnswer:
        context = f"{call.base_url}/beta/$metadata#external/industryData/runs"
        return self._page(
            call, self._run_order(), lambda run_id: self._runs[run_id]["run"], context
        )

    async def _serve_run(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        entry = self._runs.get(match["id"])
        if entry is None:
            return self._run_not_found(call, match["id"])
        context = f"{call.base_url}/beta/$metadata#external/industryData/runs/$entity"
        return call.answer(200, {"@odata.context": context, **entry["run"]})

    async def _serve_run_statistics(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        """The run's statistics; before any are set, zero totals under the run's status.

        getStatistics is a function bound to every run, so a run that has counted nothing yet
        gets zero totals rather than a 404 (Graph documents no error for that case). Missing
        or empty ``runId``/``status`` come from the run.
        """
        run_id = match["id"]
        entry = self._runs.get(run_id)
        if entry is None:
            return self._run_not_found(call, run_id)
        status = entry["run"].get("status")
        statistics = entry["statistics"]
        if statistics is None:
            statistics = empty_run_statistics(run_id, status)
        context = (
            f"{call.base_url}/beta/$metadata#microsoft.graph.industryData.industryDataRunStatistics"
        )
        defaults = {"runId": run_id, "status": status}
        filled = {key: value for key, value in statistics.items() if value not in ("", None)}
        return call.answer(200, {"@odata.context": context, **statistics, **defaults, **filled})

    @staticmethod
    def _run_not_found(call: GraphCall, run_id: str) -> GraphAnswer:
        return call.error(404, "ResourceNotFound", f"The industryDataRun '{run_id}' was not found.")

    # JSON batching ----------------------------------------------------------------------------

    async def _serve_batch(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        """Answer each sub-request through :meth:`_answer`, in order, as Graph's $batch does.

        The budget, faults, refusals and the Prefer header therefore apply per sub-request;
        the envelope's Host and Authorization are lent to each sub-request, nothing else.
        """
        try:
            steps = parse_batch(call.body)
        except ValueError as exc:
            return call.error(400, "BadRequest", str(exc))
        lent = [
            (name, call.headers[name]) for name in BATCH_ENVELOPE_HEADERS if name in call.headers
        ]
        responses = []
        for step in steps:
            parts = urllib.parse.urlsplit(step.url)
            path = f"/{match['version']}/{urllib.parse.unquote(parts.path).lstrip('/')}"
            query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
            headers: CIMultiDict[str] = CIMultiDict(lent)
            for name, value in step.headers.items():
                headers[name] = value
            self._requests.append(
                RecordedRequest(step.method, path, query, headers, time.time(), batched=True)
            )
            self._subrequest_count += 1
            if BATCH_PATH.fullmatch(path) is not None:
                answer = call.error(400, "BadRequest", "Nested batch requests are not supported.")
            else:
                answer = await self._answer(step.method, path, query, headers, step.body)
            if answer.status == 429:
                self._throttled_count += 1
            responses.append(batch_response(step.id, answer))
        return call.answer(200, {"responses": responses})


# -- control API -----------------------------------------------------------------------------

FAULT_FIELDS = {
    "path": "path",
    "status": "status",
    "retryAfter": "retry_after",
    "times": "times",
    "delay": "delay",
    "malformed": "malformed",
    "code": "code",
    "message": "message",
    "method": "method",
    "skip": "skip",
}


# Properties of a run in the control API -> keyword of SimulatedTenant.add_run.
RUN_FIELDS = {
    "displayName": "display_name",
    "status": "status",
    "startDateTime": "start",
    "endDateTime": "end",
    "blockingError": "blocking_error",
    "statistics": "statistics",
}


def control_error(exception: type[web.HTTPException], message: str) -> web.HTTPException:
    """An aiohttp HTTP exception carrying a Graph-shaped JSON error, for the control API."""
    code, _ = default_error(exception.status_code)
    body = json.dumps({"error": {"code": code, "message": message}})
    return exception(text=body, content_type="application/json")


async def read_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body (an empty body counts as ``{}``)."""
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise control_error(web.HTTPBadRequest, "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise control_error(web.HTTPBadRequest, "The body must be a JSON object.")
    return body


class ControlApi:
    """``/_tenant/`` endpoints: steer a tenant that runs in another process."""

    def __init__(self, tenant: SimulatedTenant) -> None:
        self._tenant = tenant

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_tenant/health", self.health),
            web.get("/_tenant/profiles", self.list_profiles),
            web.post("/_tenant/profiles", self.add_profile),
            web.patch("/_tenant/profiles/{id}/profileStatus", self.patch_status),
            web.delete("/_tenant/profiles/{id}", self.remove_profile),
            web.get("/_tenant/faults", self.list_faults),
            web.post("/_tenant/faults", self.add_fault),
            web.delete("/_tenant/faults", self.clear_faults),
            web.post("/_tenant/sources/{name}/refuse", self.refuse_source),
            web.delete("/_tenant/sources/{name}/refuse", self.restore_source),
            web.get("/_tenant/requests", self.list_requests),
            web.delete("/_tenant/requests", self.clear_requests),
            web.get("/_tenant/servicePrincipals", self.list_service_principals),
            web.put("/_tenant/servicePrincipals/{sp}", self.put_service_principal),
            web.delete("/_tenant/servicePrincipals/{sp}", self.remove_service_principal),
            web.put("/_tenant/servicePrincipals/{sp}/jobs/{job}", self.put_job),
            web.patch("/_tenant/servicePrincipals/{sp}/jobs/{job}", self.patch_job),
            web.delete("/_tenant/servicePrincipals/{sp}/jobs/{job}", self.remove_job),
            web.get("/_tenant/runs", self.list_runs),
            web.put("/_tenant/runs/{id}", self.put_run),
            web.patch("/_tenant/runs/{id}", self.patch_run),
            web.delete("/_tenant/runs/{id}", self.remove_run),
            web.get("/_tenant/rateLimit", self.get_rate_limit),
            web.put("/_tenant/rateLimit", self.put_rate_limit),
            web.get("/_tenant/counters", self.get_counters),
            web.delete("/_tenant/counters", self.reset_counters),
            web.route("*", "/_tenant/{tail:.*}", self.unknown),
        ]

    async def health(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def list_profiles(self, _request: web.Request) -> web.Response:
        return web.json_response({"value": list(self._tenant.profiles.values())})

    async def add_profile(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        profile_id = body.get("id")
        display_name = body.get("displayName", "")
        state = body.get("state", "provisioned")
        status = body.get("status")
        if not (isinstance(profile_id, str) and profile_id):
            raise control_error(web.HTTPBadRequest, "'id' must be a non-empty string.")
        if not (isinstance(display_name, str) and isinstance(state, str)):
            raise control_error(web.HTTPBadRequest, "'displayName' and 'state' must be strings.")
        if status is not None and not isinstance(status, dict):
            raise control_error(web.HTTPBadRequest, "'status' must be a JSON object.")
        self._tenant.add_profile(profile_id, display_name, state, status)
        return web.json_response(self._tenant.get_profile(profile_id), status=201)

    async def patch_status(self, request: web.Request) -> web.Response:
        profile_id = request.match_info["id"]
        changes = await read_object(request)
        try:
            self._tenant.set_status(profile_id, **changes)
        except KeyError:
            raise self._unknown_profile(profile_id) from None
        return web.json_response(self._tenant.get_profile(profile_id)["status"])

    async def remove_profile(self, request: web.Request) -> web.Response:
        profile_id = request.match_info["id"]
        try:
            self._tenant.remove_profile(profile_id)
        except KeyError:
            raise self._unknown_profile(profile_id) from None
        return web.Response(status=204)

    async def list_faults(self, _request: web.Request) -> web.Response:
        return web.json_response({"value": [fault.to_json() for fault in self._tenant.faults]})

    async def add_fault(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        unknown = sorted(set(body) - set(FAULT_FIELDS))
        if unknown:
            raise control_error(web.HTTPBadRequest, f"Unknown fault properties: {unknown}.")
        if "path" not in body:
            raise control_error(web.HTTPBadRequest, "A fault needs a 'path' regex.")
        options = {FAULT_FIELDS[name]: value for name, value in body.items() if name != "path"}
        try:
            fault = self._tenant.add_fault(body["path"], **options)
        except ValueError as exc:
            raise control_error(web.HTTPBadRequest, str(exc)) from None
        return web.json_response(fault.to_json(), status=201)

    async def clear_faults(self, _request: web.Request) -> web.Response:
        self._tenant.clear_faults()
        return web.Response(status=204)

    async def refuse_source(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        unknown = sorted(set(body) - {"status", "code", "message"})
        if unknown:
            raise control_error(web.HTTPBadRequest, f"Unknown refusal properties: {unknown}.")
        name = request.match_info["name"]
        if name not in SOURCE_PREFIXES:
            raise control_error(web.HTTPNotFound, f"Unknown source {name!r}.")
        try:
            self._tenant.refuse_source(name, **body)
        except ValueError as exc:
            raise control_error(web.HTTPBadRequest, str(exc)) from None
        return web.Response(status=204)

    async def restore_source(self, request: web.Request) -> web.Response:
        try:
            self._tenant.restore_source(request.match_info["name"])
        except ValueError as exc:
            raise control_error(web.HTTPNotFound, str(exc)) from None
        return web.Response(status=204)

    async def list_requests(self, _request: web.Request) -> web.Response:
        recorded = [request.to_json() for request in self._tenant.requests]
        return web.json_response({"value": recorded})

    async def clear_requests(self, _request: web.Request) -> web.Response:
        self._tenant.clear_requests()
        return web.Response(status=204)

    # Provisioning jobs ------------------------------------------------------------------------

    async def list_service_principals(self, _request: web.Request) -> web.Response:
        principals = self._tenant.service_principals
        value = [{"id": sp_id, "jobs": list(jobs.values())} for sp_id, jobs in principals.items()]
        return web.json_response({"value": value})

    async def put_service_principal(self, request: web.Request) -> web.Response:
        sp_id = request.match_info["sp"]
        created = not self._exists(self._tenant.get_service_principal, sp_id)
        self._tenant.add_service_principal(sp_id)
        jobs = list(self._tenant.get_service_principal(sp_id).values())
        return web.json_response({"id": sp_id, "jobs": jobs}, status=201 if created else 200)

    async def remove_service_principal(self, request: web.Request) -> web.Response:
        sp_id = request.match_info["sp"]
        try:
            self._tenant.remove_service_principal(sp_id)
        except KeyError:
            raise control_error(
                web.HTTPNotFound, f"No service principal with id {sp_id!r}."
            ) from None
        return web.Response(status=204)

    async def put_job(self, request: web.Request) -> web.Response:
        """Add or replace a job: {"templateId"?, "status"?, "schedule"?}."""
        sp_id, job_id = request.match_info["sp"], request.match_info["job"]
        body = await read_object(request)
        unknown = sorted(set(body) - {"templateId", "status", "schedule"})
        if unknown:
            raise control_error(web.HTTPBadRequest, f"Unknown job properties: {unknown}.")
        template_id = body.get("templateId", "scim")
        if not (isinstance(template_id, str) and template_id):
            raise control_error(web.HTTPBadRequest, "'templateId' must be a non-empty string.")
        for name in ("status", "schedule"):
            if body.get(name) is not None and not isinstance(body[name], dict):
                raise control_error(web.HTTPBadRequest, f"'{name}' must be a JSON object.")
        created = not self._exists(self._tenant.get_job, sp_id, job_id)
        self._tenant.add_job(
            sp_id,
            job_id,
            template_id=template_id,
            status=body.get("status"),
            schedule=body.get("schedule"),
        )
        job = self._tenant.get_job(sp_id, job_id)
        return web.json_response(job, status=201 if created else 200)

    async def patch_job(self, request: web.Request) -> web.Response:
        """Merge the body's top-level keys into the job's status; answers the job."""
        sp_id, job_id = request.match_info["sp"], request.match_info["job"]
        changes = await read_object(request)
        try:
            self._tenant.set_job_status(sp_id, job_id, **changes)
        except KeyError:
            raise self._unknown_job(sp_id, job_id) from None
        return web.json_response(self._tenant.get_job(sp_id, job_id))

    async def remove_job(self, request: web.Request) -> web.Response:
        sp_id, job_id = request.match_info["sp"], request.match_info["job"]
        try:
            self._tenant.remove_job(sp_id, job_id)
        except KeyError:
            raise self._unknown_job(sp_id, job_id) from None
        return web.Response(status=204)

    # Industry Data runs -----------------------------------------------------------------------

    async def list_runs(self, _request: web.Request) -> web.Response:
        return web.json_response({"value": list(self._tenant.runs.values())})

    async def put_run(self, request: web.Request) -> web.Response:
        """Add or replace a run: Graph's run properties, plus "statistics"."""
        run_id = request.match_info["id"]
        body = await read_object(request)
        unknown = sorted(set(body) - set(RUN_FIELDS))
        if unknown:
            raise control_error(web.HTTPBadRequest, f"Unknown run properties: {unknown}.")
        for name in ("displayName", "status"):
            if name in body and not isinstance(body[name], str):
                raise control_error(web.HTTPBadRequest, f"'{name}' must be a string.")
        for name in ("startDateTime", "endDateTime"):
            if body.get(name) is not None and not isinstance(body[name], str):
                raise control_error(web.HTTPBadRequest, f"'{name}' must be a string or null.")
        for name in ("blockingError", "statistics"):
            if body.get(name) is not None and not isinstance(body[name], dict):
                raise control_error(web.HTTPBadRequest, f"'{name}' must be a JSON object.")
        created = not self._exists(self._tenant.get_run, run_id)
        options = {RUN_FIELDS[name]: value for name, value in body.items()}
        self._tenant.add_run(run_id, **options)
        return web.json_response(self._tenant.get_run(run_id), status=201 if created else 200)

    async def patch_run(self, request: web.Request) -> web.Response:
        """Merge run properties; a "statistics" key replaces the statistics instead."""
        run_id = request.match_info["id"]
        changes = await read_object(request)
        has_statistics = "statistics" in changes
        statistics = changes.pop("statistics", None)
        if statistics is not None and not isinstance(statistics, dict):
            raise control_error(web.HTTPBadRequest, "'statistics' must be a JSON object or null.")
        try:
            self._tenant.set_run(run_id, **changes)
            if has_statistics:
                self._tenant.set_run_statistics(run_id, statistics)
        except KeyError:
            raise self._unknown_run(run_id) from None
        return web.json_response(self._tenant.get_run(run_id))

    async def remove_run(self, request: web.Request) -> web.Response:
        run_id = request.match_info["id"]
        try:
            self._tenant.remove_run(run_id)
        except KeyError:
            raise self._unknown_run(run_id) from None
        return web.Response(status=204)

    # Throttling and counters ------------------------------------------------------------------

    async def get_rate_limit(self, _request: web.Request) -> web.Response:
        return web.json_response(self._rate_limit_json())

    async def put_rate_limit(self, request: web.Request) -> web.Response:
        """{"rateLimit": requests per second or null, "retryAfter": whole seconds}."""
        body = await read_object(request)
        unknown = sorted(set(body) - {"rateLimit", "retryAfter"})
        if unknown:
            raise control_error(web.HTTPBadRequest, f"Unknown rate limit properties: {unknown}.")
        if "rateLimit" not in body:
            raise control_error(web.HTTPBadRequest, "'rateLimit' is required (null: no limit).")
        retry_after = body.get("retryAfter", self._tenant.throttle_retry_after)
        previous = self._tenant.throttle_retry_after
        try:
            self._tenant.throttle_retry_after = retry_after
            self._tenant.rate_limit = body["rateLimit"]
        except ValueError as exc:
            self._tenant.throttle_retry_after = previous  # all or nothing
            raise control_error(web.HTTPBadRequest, str(exc)) from None
        return web.json_response(self._rate_limit_json())

    def _rate_limit_json(self) -> dict[str, Any]:
        return {
            "rateLimit": self._tenant.rate_limit,
            "retryAfter": self._tenant.throttle_retry_after,
        }

    async def get_counters(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "requestCount": self._tenant.request_count,
                "subrequestCount": self._tenant.subrequest_count,
                "throttledCount": self._tenant.throttled_count,
            }
        )

    async def reset_counters(self, _request: web.Request) -> web.Response:
        self._tenant.reset_counters()
        return web.Response(status=204)

    async def unknown(self, request: web.Request) -> web.Response:
        raise control_error(
            web.HTTPNotFound, f"No control endpoint {request.method} {request.path}."
        )

    @staticmethod
    def _unknown_profile(profile_id: str) -> web.HTTPException:
        return control_error(web.HTTPNotFound, f"No profile with id {profile_id!r}.")

    @staticmethod
    def _exists(getter: Callable[..., object], *ids: str) -> bool:
        try:
            getter(*ids)
        except KeyError:
            return False
        return True

    @staticmethod
    def _unknown_job(sp_id: str, job_id: str) -> web.HTTPException:
        return control_error(web.HTTPNotFound, f"No job {job_id!r} on service principal {sp_id!r}.")

    @staticmethod
    def _unknown_run(run_id: str) -> web.HTTPException:
        return control_error(web.HTTPNotFound, f"No run with id {run_id!r}.")


# -- generated tenants -----------------------------------------------------------------------

STATUS_MESSAGES = {
    "success": "Processed {processed} in the last hour.\r\nUpdated {updated} in the last hour.",
    "inProgress": "Processed {processed} in the last hour.\r\nUpdated {updated} in the last hour.",
    "extracting": "Extracting data from the source.\r\nRead {processed} records so far.",
    "validating": "Validating {processed} records.\r\n{errors} errors found so far.",
    "error": (
        "Sync stopped: {errors} records failed validation.\r\n"
        "Download the error report from the profile's errors."
    ),
    "validationError": (
        "The source files failed validation.\r\nSchool.csv: the column 'SIS ID' is missing."
    ),
    "quarantined": (
        "Profile quarantined: the sync would remove more than 50% of users.\r\n"
        "Review the source data, then resume the profile."
    ),
    "paused": "Paused by an administrator.\r\nResume the profile to continue syncing.",
}

# Statuses of ``--profiles`` tenants, weighted roughly like a district's morning.
GENERATED_STATUSES = (
    ("success", 60),
    ("inProgress", 12),
    ("extracting", 4),
    ("validating", 4),
    ("error", 10),
    ("validationError", 3),
    ("quarantined", 3),
    ("paused", 4),
)
FAILED_STATUSES = frozenset({"error", "validationError", "quarantined"})

# Display names in SDS often carry typographic dashes: they keep clients honest about non-ASCII.
DASH = "\N{EN DASH}"
DEMO_SCHOOLS = (
    (f"Contoso High School {DASH} SIS roster", "success", 0),
    (f"Fabrikam Middle School {DASH} SIS roster", "inProgress", 0),
    (f"Northwind Elementary {DASH} PowerSchool export", "extracting", 0),
    (f"Tailspin Toys Academy {DASH} Skyward sync", "validating", 0),
    (f"Woodgrove Primary {DASH} CSV upload", "error", 17),
    (f"Alpine Ski School {DASH} OneRoster API", "quarantined", 412),
    (f"Litware Charter School {DASH} CSV upload", "paused", 0),
    (f"Adventure Works Prep {DASH} SIS roster", "success", 2),
)
# Chance that a demo profile changes on a tick, and that a running sync fails.
DEMO_CHANGE_ODDS = 0.5
DEMO_FAILURE_ODDS = 0.08
# Profiles in these statuses keep syncing on schedule; the others wait for an administrator.
CYCLING_STATUSES = frozenset({"success", "inProgress", "extracting", "validating"})
EVOLVING_STATUSES = CYCLING_STATUSES | {"error"}


def random_offset_ns(rng: random.Random, low_seconds: int, high_seconds: int) -> int:
    """A random duration in 100-ns ticks, so generated timestamps use all 7 digits."""
    return rng.randrange(low_seconds * 10_000_000, high_seconds * 10_000_000) * 100


def status_message(status: str, rng: random.Random, errors: int) -> str:
    """A statusMessage like SDS writes them: two lines separated by CRLF."""
    processed = rng.randrange(0, 5000)
    template = STATUS_MESSAGES.get(status, STATUS_MESSAGES["success"])
    return template.format(
        processed=processed, updated=rng.randrange(0, processed + 1), errors=errors
    )


def make_status(
    profile_id: str, status: str, rng: random.Random, now_ns: int, errors: int = 0
) -> dict[str, Any]:
    """A realistic profileStatus: only a success moves lastSynchronizationDateTime forward."""
    last_activity = now_ns - random_offset_ns(rng, 1, 600)
    last_sync = (
        last_activity if status == "success" else now_ns - random_offset_ns(rng, 3600, 259200)
    )
    return {
        "id": profile_id,
        "status": status,
        "lastSynchronizationDateTime": graph_timestamp(last_sync),
        "lastActivityDateTime": graph_timestamp(last_activity),
        "errorCount": errors,
        "statusMessage": status_message(status, rng, errors),
    }


def populate_profiles(tenant: SimulatedTenant, count: int, seed: int) -> list[str]:
    """Add ``count`` profiles whose ids and statuses depend only on ``seed`` and the index."""
    rng = random.Random(seed)
    now = time.time_ns()
    names, weights = zip(*GENERATED_STATUSES, strict=True)
    ids = []
    for index in range(count):
        profile_id = str(uuid.uuid5(ID_NAMESPACE, f"{seed}/{index}"))
        status = rng.choices(names, weights)[0]
        errors = rng.randrange(1, 200) if status in FAILED_STATUSES else 0
        tenant.add_profile(
            profile_id,
            f"School {index + 1:04d} {DASH} SIS roster",
            status=make_status(profile_id, status, rng, now, errors),
        )
        ids.append(profile_id)
    return ids


# Job statuses of ``--jobs`` tenants: mostly steady, with every kind of trouble present.
GENERATED_JOB_KINDS = (
    ("Active", 70),
    ("EntryLevelErrors", 10),
    ("Failed", 5),
    ("Quarantine", 5),
    ("Paused", 5),
    ("NotRun", 3),
    ("NotConfigured", 2),
)
# Statuses of finished ``--runs`` runs; runs happen about every 12 hours.
GENERATED_RUN_STATUSES = (
    ("completed", 70),
    ("completedWithWarnings", 15),
    ("completedWithErrors", 8),
    ("failed", 7),
)
RUN_INTERVAL_NS = 12 * HOUR_NS


def kind_status(kind: str, now_ns: int) -> dict[str, Any]:
    """A job status for a generated kind: a synchronizationStatusCode or an execution state."""
    match kind:
        case "EntryLevelErrors":
            return entry_level_errors_job_status(now_ns=now_ns)
        case "Failed":
            return failed_job_status(now_ns=now_ns)
        case _:
            return job_status(kind, now_ns=now_ns)


def generated_job_id(template_id: str, key: str) -> str:
    """A job id shaped like Graph's (``<templateId>.<hex>.<hex>``), derived from ``key``."""
    first = uuid.uuid5(ID_NAMESPACE, f"job/{key}").hex
    second = uuid.uuid5(ID_NAMESPACE, f"app/{key}").hex
    return f"{template_id}.{first}.{second}"


def populate_jobs(
    tenant: SimulatedTenant, count: int, seed: int, per_service_principal: int = 10
) -> list[str]:
    """Add ``count`` jobs, ``per_service_principal`` to a service principal; returns the
    service principals' ids. Ids and statuses depend only on ``seed`` and the index.
    """
    if per_service_principal < 1:
        raise ValueError(f"per_service_principal must be >= 1, not {per_service_principal}.")
    rng = random.Random(seed)
    now = time.time_ns()
    kinds, weights = zip(*GENERATED_JOB_KINDS, strict=True)
    sp_ids: list[str] = []
    for index in range(count):
        number = index // per_service_principal
        sp_id = str(uuid.uuid5(ID_NAMESPACE, f"{seed}/servicePrincipal/{number}"))
        if not sp_ids or sp_ids[-1] != sp_id:
            tenant.add_service_principal(sp_id)
            sp_ids.append(sp_id)
        kind = rng.choices(kinds, weights)[0]
        status = kind_status(kind, now - random_offset_ns(rng, 0, 1800))
        tenant.add_job(sp_id, generated_job_id("scim", f"{seed}/{index}"), status=status)
    return sp_ids


def run_display_name(start_ns: int) -> str:
    """Graph names runs after their start: ``Run 2023-11-01 11:10 UTC``."""
    return f"Run {datetime.fromtimestamp(start_ns // SECOND_NS, UTC):%Y-%m-%d %H:%M} UTC"


def finished_run(
    tenant: SimulatedTenant,
    run_id: str,
    status: str,
    start_ns: int,
    duration_ns: int,
    rng: random.Random | None = None,
) -> None:
    """Add a finished run with the statistics (or blocking error) its status implies."""
    errors = warnings = 0
    if status == "completedWithErrors":
        errors = rng.randrange(1, 60) if rng else 23
    elif status == "completedWithWarnings":
        warnings = rng.randrange(1, 40) if rng else 14
    failed = status == "failed"
    tenant.add_run(
        run_id,
        display_name=run_display_name(start_ns),
        status=status,
        start=graph_timestamp(start_ns),
        end=graph_timestamp(start_ns + duration_ns),
        blocking_error=blocking_error() if failed else None,
        statistics=None if failed else run_statistics(errors, warnings, run_id=run_id),
    )


def populate_runs(tenant: SimulatedTenant, count: int, seed: int) -> list[str]:
    """Add ``count`` finished runs, 12 hours apart going back from now (newest first).

    Ids and statuses depend only on ``seed`` and the index; failed runs carry a blocking
    error and no statistics.
    """
    rng = random.Random(seed)
    now = time.time_ns()
    names, weights = zip(*GENERATED_RUN_STATUSES, strict=True)
    ids = []
    for index in range(count):
        run_id = str(uuid.uuid5(ID_NAMESPACE, f"{seed}/run/{index}"))
        start = now - (index + 1) * RUN_INTERVAL_NS - random_offset_ns(rng, 0, 600)
        duration = random_offset_ns(rng, 600, 5400)
        finished_run(tenant, run_id, rng.choices(names, weights)[0], start, duration, rng)
        ids.append(run_id)
    return ids


# The demo's service principals and their jobs: (template, kind) per service principal.
DEMO_SERVICE_PRINCIPAL_IDS = (
    str(uuid.uuid5(ID_NAMESPACE, "demo/servicePrincipal/1")),
    str(uuid.uuid5(ID_NAMESPACE, "demo/servicePrincipal/2")),
)
DEMO_JOBS = (
    (("scim", "Active"), ("scim", "Quarantine")),
    (("scim", "EntryLevelErrors"), ("scim", "Paused")),
)
# The demo's finished runs: (hours before now, status).
DEMO_FINISHED_RUNS = ((36, "completed"), (24, "completedWithWarnings"), (12, "failed"))
# Chance that a tick starts the next demo run once the previous one has finished.
DEMO_RUN_START_ODDS = 0.5


def populate_demo_provisioning(tenant: SimulatedTenant, now_ns: int) -> None:
    """Add the demo's service principals: one job healthy, one quarantined on escrows, one
    with entry-level errors, one paused."""
    for sp_id, jobs in zip(DEMO_SERVICE_PRINCIPAL_IDS, DEMO_JOBS, strict=True):
        tenant.add_service_principal(sp_id)
        for template_id, kind in jobs:
            job_id = generated_job_id(template_id, f"demo/{sp_id}/{kind}")
            tenant.add_job(sp_id, job_id, template_id=template_id, status=kind_status(kind, now_ns))


def populate_demo_runs(tenant: SimulatedTenant, now_ns: int) -> None:
    """Add the demo's runs: finished ones 12 hours apart, and one running for 25 minutes."""
    for hours, status in DEMO_FINISHED_RUNS:
        run_id = str(uuid.uuid5(ID_NAMESPACE, f"demo/run/{hours}"))
        finished_run(tenant, run_id, status, now_ns - hours * HOUR_NS, 47 * MINUTE_NS)
    start = now_ns - 25 * MINUTE_NS
    tenant.add_run(
        str(uuid.uuid5(ID_NAMESPACE, "demo/run/running")),
        display_name=run_display_name(start),
        start=graph_timestamp(start),
    )


def advance_demo_runs(tenant: SimulatedTenant, rng: random.Random, now_ns: int) -> None:
    """Move the newest run along: a running run counts on its first tick and ends with
    errors on its second; once it has ended, a later tick starts the next one.

    The run's own statistics record how far it got, so no state is kept between ticks.
    """
    run_id = tenant.newest_run_id()
    if run_id is None:
        return
    entry = tenant.get_run(run_id)
    if entry["run"].get("status") != "running":
        if rng.random() < DEMO_RUN_START_ODDS:
            started = tenant.add_run(
                str(uuid.uuid5(ID_NAMESPACE, f"demo/run/{now_ns}")),
                display_name=run_display_name(now_ns),
                start=graph_timestamp(now_ns),
            )
            logger.info("Demo: run %s started", started)
        return
    errors = rng.randrange(1, 40)
    if entry["statistics"] is None:
        partial = run_statistics(errors // 2, 0, run_id=run_id, status="running", people=600)
        tenant.set_run_statistics(run_id, partial)
        return
    tenant.set_run(run_id, status="completedWithErrors", endDateTime=graph_timestamp(now_ns))
    tenant.set_run_statistics(run_id, run_statistics(errors, rng.randrange(0, 10), run_id=run_id))
    logger.info("Demo: run %s completedWithErrors (%d errors)", run_id, errors)


def populate_demo(tenant: SimulatedTenant, rng: random.Random) -> list[str]:
    """Add the demo: schools in each interesting state (returns their ids), the service
    principals of :data:`DEMO_SERVICE_PRINCIPAL_IDS` with their jobs, and Industry Data runs.

    Only the schools draw on ``rng``; jobs and runs are the same on every start.
    """
    now = time.time_ns()
    ids = []
    for name, status, errors in DEMO_SCHOOLS:
        profile_id = str(uuid.uuid5(ID_NAMESPACE, f"demo/{name}"))
        tenant.add_profile(
            profile_id, name, status=make_status(profile_id, status, rng, now, errors)
        )
        ids.append(profile_id)
    populate_demo_provisioning(tenant, now)
    populate_demo_runs(tenant, now)
    return ids


def next_demo_status(current: str, roll: float) -> str:
    """Where a demo profile goes on a tick: round the sync cycle, with the odd failure.

    Paused, quarantined and unknown statuses stay put: they wait for an administrator.
    """
    if current in CYCLING_STATUSES and roll < DEMO_FAILURE_ODDS:
        return "error"
    match current:
        case "extracting":
            return "validating"
        case "validating":
            return "inProgress"
        case "inProgress":
            return "success" if roll < 0.7 else "inProgress"
        case "success":
            return "inProgress" if roll < 0.4 else "success"
        case "error":
            return "inProgress" if roll < 0.5 else "error"
        case _:
            return current


def evolve_status(status: Mapping[str, Any], rng: random.Random, now_ns: int) -> dict[str, Any]:
    """The changes one demo tick makes to a status ({} when the profile stays put)."""
    current = status.get("status")
    if current not in EVOLVING_STATUSES:
        return {}
    following = next_demo_status(current, rng.random())
    errors = status.get("errorCount")
    errors = errors if isinstance(errors, int) else 0
    if following == "error":
        errors += rng.randrange(1, 25)
    elif current == "error":
        errors = rng.randrange(0, errors + 1)
    now = graph_timestamp(now_ns)
    changes: dict[str, Any] = {
        "status": following,
        "lastActivityDateTime": now,
        "errorCount": errors,
        "statusMessage": status_message(following, rng, errors),
    }
    if following == "success":
        changes["lastSynchronizationDateTime"] = now
    return changes


def demo_tick(tenant: SimulatedTenant, ids: Sequence[str], rng: random.Random) -> None:
    """Advance some of the demo profiles and the newest run, so that a poller sees Graph
    change under it."""
    now = time.time_ns()
    for profile_id in ids:
        if rng.random() >= DEMO_CHANGE_ODDS:
            continue
        try:
            status = tenant.get_profile(profile_id)["status"]
        except KeyError:
            continue  # removed through the control API
        changes = evolve_status(status, rng, now)
        if changes:
            tenant.set_status(profile_id, **changes)
            logger.info(
                "Demo: profile %s %s -> %s (errorCount %s)",
                profile_id,
                status.get("status"),
                changes["status"],
                changes["errorCount"],
            )
    advance_demo_runs(tenant, rng, now)


async def run_demo(
    tenant: SimulatedTenant, ids: Sequence[str], interval: float, rng: random.Random
) -> None:
    """Tick the demo every ``interval`` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval)
        demo_tick(tenant, ids, rng)


# -- command line ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.graph_tenant",
        description=(
            "Serve a simulated Microsoft Graph tenant: School Data Sync profiles, provisioning "
            "jobs and Industry Data runs."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7072, help="0 picks a free port")
    parser.add_argument("--profiles", type=int, default=0, help="generated profiles to add")
    parser.add_argument(
        "--jobs", type=int, default=0, help="generated provisioning jobs, 10 per service principal"
    )
    parser.add_argument("--runs", type=int, default=0, help="generated Industry Data runs")
    parser.add_argument("--demo", action="store_true", help="add demo schools that change")
    parser.add_argument("--demo-interval", type=float, default=20.0, help="seconds per change")
    parser.add_argument("--page-size", type=int, default=100, help=f"1 to {MAX_TOP}")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to each answer")
    parser.add_argument("--seed", type=int, default=1, help="seed of generated data")
    args = parser.parse_args(argv)
    if not 1 <= args.page_size <= MAX_TOP:
        parser.error(f"--page-size must be 1 to {MAX_TOP}")
    if min(args.profiles, args.jobs, args.runs, args.latency_ms) < 0 or args.demo_interval <= 0:
        parser.error(
            "--profiles, --jobs, --runs and --latency-ms cannot be negative, "
            "--demo-interval must be > 0"
        )
    return args


async def serve(args: argparse.Namespace) -> None:
    """Run until SIGINT or SIGTERM, announcing the URL on stdout for the parent process."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    tenant = SimulatedTenant(page_size=args.page_size, latency=args.latency_ms / 1000)
    populate_profiles(tenant, args.profiles, args.seed)
    sp_ids = populate_jobs(tenant, args.jobs, args.seed)
    populate_runs(tenant, args.runs, args.seed)
    rng = random.Random(args.seed)
    demo_ids = populate_demo(tenant, rng) if args.demo else []
    if args.demo:
        sp_ids = [*DEMO_SERVICE_PRINCIPAL_IDS, *sp_ids]
    url = await tenant.start(args.host, args.port)
    print(f"GRAPH_TENANT_URL={url}", flush=True)
    # Graph cannot list jobs tenant-wide, so clients are told which service principals to ask.
    if sp_ids:
        print(f"PROVISIONING_SERVICE_PRINCIPAL_IDS={','.join(sp_ids)}", flush=True)
    logger.info(
        "Serving %d profiles, %d service principals, %d runs; demo %s",
        len(tenant.profiles),
        len(sp_ids),
        len(tenant.runs),
        "on" if args.demo else "off",
    )
    demo = (
        asyncio.create_task(run_demo(tenant, demo_ids, args.demo_interval, rng))
        if demo_ids
        else None
    )
    try:
        await stop.wait()
    finally:
        if demo is not None:
            demo.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await demo
        await tenant.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(serve(args))
    except OSError as exc:
        logger.error("Cannot serve on %s:%s: %s", args.host, args.port, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
