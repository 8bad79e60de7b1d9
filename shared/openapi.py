"""The OpenAPI 2.0 (Swagger) description of the HTTP API: what ``GET /api/openapi.json``
serves and what ``infra/connector/apiDefinition.swagger.json`` holds (the Power Automate
custom connector's definition; ``python -m tools.export_connector`` writes it).

Request bodies come from the models that validate them (``ProfileStatusPatch``,
``SubscriptionRequest``), converted from pydantic's JSON Schema to Swagger 2.0: ``$ref`` to
``#/definitions/...``, no ``anyOf`` or null type (``x-nullable: true`` instead), no ``$defs``.
Responses come from the models in ``shared.models`` where there is one, and from the models
below where the API answers a shape no code validates (Graph's resources as cached, lists,
health, errors).

``host`` is a placeholder that cannot resolve (``.invalid``): the document is the same
wherever it is served, and an admin sets the app's real host when importing the connector.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import WithJsonSchema, models_json_schema

from shared.core.changes import ChangeEvent, StatusChange
from shared.core.health import HealthField
from shared.core.subscriptions import Subscription, SubscriptionRequest
from shared.core.time import ISO_8601
from shared.models import (
    INT64_MAX,
    NOT_NULLABLE,
    EducationSynchronizationProfileStatus,
    ProfileStatusPatch,
    Timestamp,
)
from shared.models import IndustryDataRun as CheckedIndustryDataRun
from shared.models import SynchronizationJob as CheckedSynchronizationJob
from shared.settings import SOURCES

PLACEHOLDER_HOST = "your-function-app.invalid"
BASE_PATH = "/api"
API_KEY_HEADER = "x-functions-key"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 999

_REF = "#/definitions/{model}"

Int64 = Annotated[int, WithJsonSchema({"type": "integer", "format": "int64"})]
Int32 = Annotated[int, WithJsonSchema({"type": "integer", "format": "int32"})]


class _Graph(BaseModel):
    """A Graph resource as cached: every property may be null or missing, and properties
    Graph adds later are served too."""

    model_config = ConfigDict(extra="allow")


# -- School Data Sync -------------------------------------------------------------------------


class ProfileStatus(EducationSynchronizationProfileStatus):
    """The educationSynchronizationProfileStatus of a School Data Sync profile, as Graph sent
    it (or as a PATCH changed it)."""

    odata_context: str = Field(
        alias="@odata.context", description="The OData context URL of the resource."
    )


class ListedProfileStatus(EducationSynchronizationProfileStatus):
    """The educationSynchronizationProfileStatus of a listed profile, as Graph sent it."""


class SynchronizationProfile(BaseModel):
    """A cached School Data Sync profile with its status."""

    id: str = Field(description="The profile's ID.")
    displayName: str | None = Field(description="The profile's name.")
    state: str | None = Field(description="The profile's state (provisioned, deleting, ...).")
    profileStatus: ListedProfileStatus


class SynchronizationProfileList(BaseModel):
    """A page of cached School Data Sync profiles."""

    odata_context: str = Field(alias="@odata.context", description="The OData context URL.")
    value: list[SynchronizationProfile] = Field(description="The profiles of this page.")
    odata_next_link: str = Field(
        default="",
        alias="@odata.nextLink",
        description="The URL of the next page; absent on the last page.",
    )


# -- every source -------------------------------------------------------------------------------


class StatusRow(BaseModel):
    """One monitored item of any source: is it broken, since when, and why."""

    source: str = Field(description="The source the item comes from.")
    id: str = Field(description="The item's ID (a job's is servicePrincipalId:jobId).")
    displayName: str | None = Field(description="The item's name.")
    status: str | None = Field(
        description="The raw status (a profile's status, a job's status.code, a run's status)."
    )
    health: HealthField = Field(description="healthy, warning, error or unknown.")
    healthSince: str | None = Field(description="When the health last changed.")
    lastCheckedDateTime: str | None = Field(description="When the poll last read the item.")
    reason: str | None = Field(description="One sentence saying why the item has its health.")
    pollError: str | None = Field(
        description="The error code while the poll cannot read the item; null otherwise."
    )
    path: str = Field(description="Where the API serves the item itself.")


class StatusList(BaseModel):
    """A page of monitored items."""

    value: list[StatusRow] = Field(description="The items of this page.")
    odata_next_link: str = Field(
        default="",
        alias="@odata.nextLink",
        description="The URL of the next page; absent on the last page.",
    )


class StatusHistory(BaseModel):
    """A page of an item's changes, newest first."""

    value: list[StatusChange] = Field(description="The changes of this page.")
    odata_next_link: str = Field(
        default="",
        alias="@odata.nextLink",
        description="The URL of the next page; absent on the last page.",
    )


# -- Entra ID provisioning (synchronizationJob, Graph v1.0) -------------------------------------


class SynchronizationError(_Graph):
    """A synchronizationError."""

    code: str | None = Field(default=None, description="The error code.")
    message: str | None = Field(default=None, description="The error message.")
    tenantActionable: bool | None = Field(
        default=None, description="Whether the tenant can fix the error."
    )


class SynchronizationTaskExecution(_Graph):
    """A synchronizationTaskExecution: one run of a provisioning job."""

    activityIdentifier: str | None = Field(default=None, description="The run's identifier.")
    countEntitled: Int64 | None = None
    countEntitledForProvisioning: Int64 | None = None
    countEscrowed: Int64 | None = None
    countEscrowedRaw: Int64 | None = None
    countExported: Int64 | None = None
    countExports: Int64 | None = None
    countImported: Int64 | None = None
    countImportedDeltas: Int64 | None = None
    countImportedReferenceDeltas: Int64 | None = None
    state: str | None = Field(
        default=None, description="Succeeded, Failed or EntryLevelErrors (or a newer value)."
    )
    error: SynchronizationError | None = None
    timeBegan: str | None = Field(default=None, description="When the run began.")
    timeEnded: str | None = Field(default=None, description="When the run ended.")


class SynchronizationProgress(_Graph):
    """A synchronizationProgress."""

    completedUnits: Int64 | None = None
    progressObservationDateTime: str | None = None
    totalUnits: Int64 | None = None
    units: str | None = None


class SynchronizationQuarantine(_Graph):
    """A synchronizationQuarantine: why and since when a job is quarantined."""

    currentBegan: str | None = None
    nextAttempt: str | None = None
    reason: str | None = Field(default=None, description="Why the job is quarantined.")
    seriesBegan: str | None = None
    seriesCount: Int64 | None = None
    error: SynchronizationError | None = None


class StringKeyLongValuePair(_Graph):
    """A stringKeyLongValuePair."""

    key: str | None = None
    value: Int64 | None = None


class SynchronizationStatus(_Graph):
    """A synchronizationStatus, whole, as Graph sent it."""

    code: str | None = Field(
        default=None,
        description="NotConfigured, NotRun, Active, Paused or Quarantine (or a newer value).",
    )
    countSuccessiveCompleteFailures: Int64 | None = None
    escrowsPruned: bool | None = None
    lastExecution: SynchronizationTaskExecution | None = None
    lastSuccessfulExecution: SynchronizationTaskExecution | None = None
    lastSuccessfulExecutionWithExports: SynchronizationTaskExecution | None = None
    progress: list[SynchronizationProgress] | None = None
    quarantine: SynchronizationQuarantine | None = None
    steadyStateFirstAchievedTime: str | None = None
    steadyStateLastAchievedTime: str | None = None
    synchronizedEntryCountByType: list[StringKeyLongValuePair] | None = None
    troubleshootingUrl: str | None = None


class SynchronizationSchedule(_Graph):
    """A synchronizationSchedule."""

    expiration: str | None = None
    interval: str | None = Field(default=None, description="An ISO 8601 duration.")
    state: str | None = None


class KeyValuePair(_Graph):
    """A keyValuePair."""

    name: str | None = None
    value: str | None = None


class SynchronizationJob(CheckedSynchronizationJob):
    """An Entra ID provisioning job (synchronizationJob) as Graph sent it."""

    templateId: str | None = Field(default=None, description="The job's template.")
    schedule: SynchronizationSchedule | None = None
    status: SynchronizationStatus | None = None  # type: ignore[assignment]
    synchronizationJobSettings: list[KeyValuePair] | None = None


class SynchronizationJobWithContext(SynchronizationJob):
    """An Entra ID provisioning job (synchronizationJob) as Graph sent it."""

    odata_context: str = Field(alias="@odata.context", description="The OData context URL.")


class SynchronizationJobList(BaseModel):
    """The cached provisioning jobs of a service principal."""

    odata_context: str = Field(alias="@odata.context", description="The OData context URL.")
    value: list[SynchronizationJob] = Field(description="The jobs.")


# -- Industry Data runs (industryDataRun, Graph beta) -------------------------------------------


class PublicErrorDetail(_Graph):
    """A publicErrorDetail."""

    code: str | None = None
    message: str | None = None
    target: str | None = None


class PublicError(_Graph):
    """A publicError: what stopped a run."""

    code: str | None = Field(default=None, description="The error code.")
    message: str | None = Field(default=None, description="The error message.")
    target: str | None = None
    details: list[PublicErrorDetail] | None = None
    innerError: dict[str, Any] | None = None


class IndustryDataRun(CheckedIndustryDataRun):
    """An Industry Data run (industryDataRun) as Graph sent it."""

    displayName: str | None = Field(default=None, description="The run's name.")
    status: str | None = Field(
        default=None,
        description="running, failed, completed, completedWithErrors or "
        "completedWithWarnings (or a newer value).",
    )
    startDateTime: str | None = Field(default=None, description="When the run started.")
    endDateTime: str | None = Field(
        default=None, description="When the run ended; null while it runs."
    )
    blockingError: PublicError | None = None


class IndustryDataRunWithContext(IndustryDataRun):
    """An Industry Data run (industryDataRun) as Graph sent it."""

    odata_context: str = Field(alias="@odata.context", description="The OData context URL.")


class IndustryDataRunList(BaseModel):
    """The cached Industry Data runs, newest first."""

    odata_context: str = Field(alias="@odata.context", description="The OData context URL.")
    value: list[IndustryDataRun] = Field(description="The runs.")


class IndustryDataRunRoleCountMetric(_Graph):
    """How many people have a role."""

    role: str | None = None
    count: Int32 | None = None


class IndustryDataRunEntityCountMetric(_Graph):
    """Counts of active and inactive entities."""

    active: Int32 | None = None
    inactive: Int32 | None = None
    total: Int32 | None = None


class IndustryDataActivityStatistics(_Graph):
    """The statistics of one activity (flow) of a run."""

    activityId: str | None = None
    displayName: str | None = None
    status: str | None = None
    errors: Int32 | None = None
    warnings: Int32 | None = None
    groups: IndustryDataRunEntityCountMetric | None = None
    matchedPeopleByRole: list[IndustryDataRunRoleCountMetric] | None = None
    memberships: IndustryDataRunEntityCountMetric | None = None
    organizations: IndustryDataRunEntityCountMetric | None = None
    people: IndustryDataRunEntityCountMetric | None = None
    unmatchedPeopleByRole: list[IndustryDataRunRoleCountMetric] | None = None


class AggregatedInboundStatistics(_Graph):
    """The totals of a run's inbound flows."""

    errors: Int32 | None = None
    warnings: Int32 | None = None
    groups: Int32 | None = None
    matchedPeopleByRole: list[IndustryDataRunRoleCountMetric] | None = None
    memberships: Int32 | None = None
    organizations: Int32 | None = None
    people: Int32 | None = None
    unmatchedPeopleByRole: list[IndustryDataRunRoleCountMetric] | None = None


class IndustryDataRunStatistics(_Graph):
    """The statistics of an Industry Data run (industryDataRunStatistics) as Graph sent them."""

    odata_context: str = Field(alias="@odata.context", description="The OData context URL.")
    runId: str | None = Field(default=None, description="The run's ID.")
    status: str | None = Field(default=None, description="The run's status.")
    activityStatistics: list[IndustryDataActivityStatistics] | None = None
    inboundTotals: AggregatedInboundStatistics | None = None


# -- subscriptions, health, errors --------------------------------------------------------------


class SubscriptionList(BaseModel):
    """Every webhook subscription."""

    value: list[Subscription] = Field(description="The subscriptions, oldest first.")


class PollErrorCount(BaseModel):
    """How many items of a poll failed with one error code."""

    code: str = Field(description="The error code.")
    count: Int32 = Field(description="How many items failed with it.")


class SourceError(BaseModel):
    """Why the poll could not list a whole source."""

    status: Int32 | None = Field(default=None, description="Graph's HTTP status, if any.")
    code: str | None = Field(default=None, description="Graph's error code.")
    message: str | None = Field(default=None, description="Graph's error message.")


class LastPoll(BaseModel):
    """The last poll of a source."""

    outcome: Literal["succeeded", "partial", "failed", "unavailable"] = Field(
        description="succeeded, partial, failed or unavailable."
    )
    startedDateTime: str = Field(description="When the poll started.")
    finishedDateTime: str | None = Field(description="When the poll finished.")
    counts: dict[str, Int32] = Field(
        description="Items listed, unchanged, written, removed and failed."
    )
    errors: list[PollErrorCount] = Field(description="Failed items by error code.")
    sourceError: SourceError | None = None


class SourceHealth(BaseModel):
    """The health of one enabled source."""

    source: str = Field(description="The source.")
    status: Literal["healthy", "degraded", "unavailable", "stale", "notPolledYet"] = Field(
        description="healthy, degraded, unavailable, stale or notPolledYet."
    )
    lastPoll: LastPoll | None = None


class HealthReport(BaseModel):
    """The last poll of each enabled source and an overall verdict (counts and error codes
    only: no tenant data)."""

    status: Literal["healthy", "degraded", "unhealthy"] = Field(
        description="healthy, degraded or unhealthy."
    )
    checkedDateTime: str = Field(description="When this report was made.")
    storage: Literal["available", "unavailable"] = Field(
        description="Whether Table Storage answered."
    )
    sources: list[SourceHealth] = Field(
        default_factory=list, description="One entry per enabled source."
    )
    configurationError: str | None = Field(
        default=None, description="A missing or invalid app setting, named, when there is one."
    )


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str = Field(description="The error code.")
    message: str = Field(description="What went wrong, and what to do about it.")
    target: str = Field(default="", description="The parameter or property at fault.")


class Error(BaseModel):
    """An error, in Microsoft Graph's shape."""

    error: ErrorDetail


# -- presentation: titles, visibility and texts of the schemas ---------------------------------

# x-ms-summary of properties whose title is not just their name in words.
_SUMMARIES = {
    "id": "ID",
    "@odata.context": "OData Context",
    "@odata.nextLink": "Next Link",
    "@odata.type": "OData Type",
    "notificationUrl": "Notification URL",
    "troubleshootingUrl": "Troubleshooting URL",
    "ids": "Item IDs",
    "runId": "Run ID",
    "activityId": "Activity ID",
    "eventId": "Event ID",
    "subscriptionId": "Subscription ID",
    "templateId": "Template ID",
}
# Properties a flow maker looks for first; the others are advanced.
_IMPORTANT = {
    "id",
    "displayName",
    "status",
    "health",
    "healthSince",
    "reason",
    "statusMessage",
    "errorCount",
    "source",
    "previousStatus",
    "previousHealth",
    "changedDateTime",
    "lastSynchronizationDateTime",
    "profileStatus",
    "code",
    "message",
    "value",
    "filter",
    "sources",
    "state",
    "startDateTime",
    "endDateTime",
    "blockingError",
    "quarantine",
    "lastExecution",
    "error",
}
# Properties Power Automate should neither ask for nor show.
_INTERNAL = {"@odata.context", "@odata.type", "notificationUrl"}

# Descriptions of definitions and properties the validating models leave to developers.
_DEFINITION_TEXT = {
    "ChangeEvent": "The event POSTed to a subscriber for each change of an item's status "
    "or health.",
    "StatusChange": "One change of an item's status or health.",
    "ProfileStatusPatch": "The properties of a profileStatus to change. Writable: status, "
    "statusMessage, errorCount, lastActivityDateTime, lastSynchronizationDateTime.",
    "Subscription": "A webhook subscription.",
    "SubscriptionFilter": "Which changes a subscription receives; each list left out (or "
    "empty) matches all.",
    "SubscriptionRequest": "Where to POST each change, and which changes.",
}
_PROPERTY_TEXT = {
    ("ProfileStatusPatch", "@odata.type"): "If sent, "
    "#microsoft.graph.educationSynchronizationProfileStatus.",
    ("ProfileStatusPatch", "id"): "If sent, the profile ID of the path.",
    ("ProfileStatusPatch", "status"): "The new status.",
    ("ProfileStatusPatch", "statusMessage"): "The new status message; null clears it.",
    ("ProfileStatusPatch", "errorCount"): "The new error count, a whole number.",
    ("ProfileStatusPatch", "lastActivityDateTime"): "ISO 8601 with an offset or Z, up to 7 "
    "fractional digits; or null.",
    ("ProfileStatusPatch", "lastSynchronizationDateTime"): "ISO 8601 with an offset or Z, up "
    "to 7 fractional digits; or null.",
    ("SubscriptionFilter", "health"): "Only changes to these healths.",
    ("SubscriptionFilter", "sources"): "Only changes of items of these sources.",
    ("SubscriptionFilter", "ids"): "Only changes of these items.",
    ("SubscriptionRequest", "notificationUrl"): "The URL each change is POSTed to (Power "
    "Automate fills it in).",
    ("SubscriptionRequest", "filter"): "Which changes to send; all when left out.",
    ("Subscription", "id"): "The subscription's ID.",
    ("Subscription", "notificationUrl"): "The URL each change is POSTed to.",
    ("Subscription", "filter"): "Which changes are sent; all when null.",
    ("Subscription", "status"): "active, or disabled when the receiver kept answering 404 or 410.",
    ("Subscription", "createdDateTime"): "When the subscription was made.",
    ("Subscription", "disabledReason"): "Why the subscription was disabled.",
    ("ProfileStatus", "id"): "The profile's ID.",
    ("ProfileStatus", "status"): "paused, inProgress, success, error, validationError, "
    "quarantined, extracting or validating (or a newer value).",
    ("ProfileStatus", "lastSynchronizationDateTime"): "When the profile last synchronized.",
    ("ProfileStatus", "lastActivityDateTime"): "When the profile last had activity.",
    ("ProfileStatus", "errorCount"): "How many errors the profile has.",
    ("ProfileStatus", "statusMessage"): "Graph's message about the status.",
    ("StatusChange", "source"): "The source the item comes from.",
    ("StatusChange", "id"): "The item's ID.",
    ("StatusChange", "displayName"): "The item's name.",
    ("StatusChange", "previousHealth"): "The health before; null when new.",
    ("StatusChange", "health"): "healthy, warning, error or unknown.",
}
_PROPERTY_TEXT |= {
    ("ListedProfileStatus", name): text
    for (model, name), text in _PROPERTY_TEXT.items()
    if model == "ProfileStatus"
}
_PROPERTY_TEXT |= {
    ("ChangeEvent", name): text
    for (model, name), text in _PROPERTY_TEXT.items()
    if model == "StatusChange"
}
# Where a property's visibility differs from its name's.
_PROPERTY_VISIBILITY = {("ProfileStatusPatch", "id"): "internal"}
# Request properties the parser refuses null for, though their model's type allows None.
_NOT_NULL = {"ProfileStatusPatch": frozenset(NOT_NULLABLE)}

# Timestamps in requests: the pattern parse_timestamp checks (ECMA regex, ASCII digits).
TIMESTAMP_PATTERN = "^" + ISO_8601.pattern.replace(r"\d", "[0-9]") + "$"
_TIMESTAMPS = {
    (model.__name__, field.alias or name)
    for model in (ProfileStatusPatch, SubscriptionRequest)
    for name, field in model.model_fields.items()
    if field.annotation == Timestamp or Timestamp in get_args(field.annotation)
}

# Key order of every schema object, so the document reads the same way everywhere.
_KEY_ORDER = (
    "$ref",
    "type",
    "format",
    "title",
    "description",
    "x-ms-summary",
    "x-ms-visibility",
    "x-ms-notification-url",
    "x-nullable",
    "enum",
    "default",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "items",
    "required",
    "properties",
    "additionalProperties",
)
# Titles are pydantic's (x-ms-summary says it better); defaults of responses mean nothing and
# those of requests are all null.
_DROPPED = {"title", "default"}


def _summary(name: str) -> str:
    if name in _SUMMARIES:
        return _SUMMARIES[name]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.lstrip("@")).split()
    return " ".join(word[:1].upper() + word[1:] for word in words)


def _visibility(name: str) -> str:
    if name in _INTERNAL:
        return "internal"
    return "important" if name in _IMPORTANT else "advanced"


def _ordered(schema: dict[str, Any]) -> dict[str, Any]:
    known = [key for key in _KEY_ORDER if key in schema]
    rest = sorted(key for key in schema if key not in _KEY_ORDER)
    return {key: schema[key] for key in known + rest}


class _Converter:
    """pydantic's JSON Schema (2020-12 flavour) to Swagger 2.0 schema objects."""

    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs

    def definition(self, name: str) -> dict[str, Any]:
        schema = self.convert(self.defs[name], model=name)
        if name in _DEFINITION_TEXT:
            schema["description"] = _DEFINITION_TEXT[name]
        return _ordered(schema)

    def convert(self, node: dict[str, Any], *, model: str | None = None) -> dict[str, Any]:
        if "$ref" in node:
            return {"$ref": node["$ref"]}
        if "anyOf" in node:
            return self._union(node, model)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED:
                continue
            if key == "const":
                out["enum"] = [value]
            elif key == "description":
                out["description"] = _plain(value)
            elif key == "items":
                out["items"] = self.convert(value)
            elif key == "additionalProperties" and isinstance(value, dict):
                out[key] = self.convert(value)
            elif key == "properties":
                out[key] = {
                    name: self._property(model, name, schema) for name, schema in value.items()
                }
            elif key in ("allOf", "oneOf", "not", "$defs", "prefixItems"):
                raise ValueError(f"Swagger 2.0 has no equivalent of {key!r} ({model})")
            else:
                out[key] = copy.deepcopy(value)
        if out.get("type") == "integer" and out.get("maximum") == INT64_MAX:
            out.setdefault("format", "int64")
        return _ordered(out)

    def _union(self, node: dict[str, Any], model: str | None) -> dict[str, Any]:
        choices = [choice for choice in node["anyOf"] if choice != {"type": "null"}]
        if len(choices) != 1:
            raise ValueError(f"Swagger 2.0 cannot describe the union {node['anyOf']!r}")
        (choice,) = choices
        if "$ref" in choice:
            # A $ref takes no siblings (x-nullable), so a nullable reference is written out.
            out = self.definition(choice["$ref"].rsplit("/", 1)[1])
        else:
            out = self.convert(choice, model=model)
        rest = {key: value for key, value in node.items() if key != "anyOf"}
        if rest:
            out |= self.convert(rest)
        if len(choices) < len(node["anyOf"]):
            out["x-nullable"] = True
        return _ordered(out)

    def _property(self, model: str | None, name: str, node: dict[str, Any]) -> dict[str, Any]:
        schema = self.convert(node, model=None)
        if model in _NOT_NULL and name in _NOT_NULL[model]:
            schema.pop("x-nullable", None)
        if (model, name) in _TIMESTAMPS:
            schema["pattern"] = TIMESTAMP_PATTERN
        if (model, name) in _PROPERTY_TEXT:
            schema["description"] = _PROPERTY_TEXT[(model, name)]
        if "$ref" not in schema:
            schema["x-ms-summary"] = _summary(name)
            schema["x-ms-visibility"] = _PROPERTY_VISIBILITY.get((model, name), _visibility(name))
        if name == "notificationUrl" and model == "SubscriptionRequest":
            schema["x-ms-notification-url"] = True
        # The models hold source names as plain strings; the document lists the sources.
        if name == "source":
            schema["enum"] = list(SOURCES)
        elif name == "sources" and model == "SubscriptionFilter":
            schema["maxItems"] = len(SOURCES)
            schema["items"] = {"type": "string", "enum": list(SOURCES)}
        return _ordered(schema)


def _plain(text: str) -> str:
    """A docstring as one paragraph of plain text (no reST literals)."""
    return " ".join(text.replace("``", "`").split())


_MODELS: tuple[type[BaseModel], ...] = (
    ProfileStatusPatch,
    SubscriptionRequest,
    Subscription,
    SubscriptionList,
    ChangeEvent,
    ProfileStatus,
    SynchronizationProfileList,
    StatusList,
    StatusHistory,
    SynchronizationJobList,
    SynchronizationJobWithContext,
    IndustryDataRunList,
    IndustryDataRunWithContext,
    IndustryDataRunStatistics,
    HealthReport,
    Error,
)


def _definitions() -> dict[str, Any]:
    _, schema = models_json_schema([(model, "validation") for model in _MODELS], ref_template=_REF)
    defs = schema["$defs"]
    converter = _Converter(defs)
    converted = {name: converter.definition(name) for name in defs}
    used = _referenced(converted, {model.__name__ for model in _MODELS})
    return {name: converted[name] for name in sorted(used)}


def _referenced(definitions: dict[str, Any], roots: set[str]) -> set[str]:
    """The definitions reachable from ``roots`` (nullable references were inlined, so some
    definitions pydantic made are used by nothing)."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(re.findall(r'"#/definitions/([^"]+)"', json.dumps(definitions[name])))
    return seen


# -- operations ---------------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/definitions/{name}"}


def _param(
    name: str,
    where: str,
    summary: str,
    description: str,
    *,
    required: bool = False,
    visibility: str = "advanced",
    **schema: Any,
) -> dict[str, Any]:
    param = {
        "name": name,
        "in": where,
        "required": required,
        "type": schema.pop("type", "string"),
        **schema,
        "description": description,
        "x-ms-summary": summary,
        "x-ms-visibility": visibility,
    }
    return param


# What Table Storage can hold as a key (shared.store.validate_key): anything else is a 400.
_ITEM_KEY = {"pattern": r"^[^/\\#?\x00-\x1f\x7f-\x9f]+$", "maxLength": 512}


def _path_param(name: str, summary: str, description: str, **schema: Any) -> dict[str, Any]:
    return _param(
        name,
        "path",
        summary,
        description,
        required=True,
        visibility="important",
        minLength=1,
        **schema,
    )


_TOP = _param(
    "$top",
    "query",
    "Page Size",
    f"How many items a page holds, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}).",
    type="integer",
    format="int32",
    minimum=1,
    maximum=MAX_PAGE_SIZE,
    default=DEFAULT_PAGE_SIZE,
)
_SKIPTOKEN = _param(
    "$skiptoken",
    "query",
    "Skip Token",
    "Where the next page starts: take it from @odata.nextLink, as given.",
    visibility="internal",
)
_IF_MATCH = _param(
    "If-Match",
    "header",
    "If-Match",
    "The ETag of the status as last read: the update is refused (412) if it changed since. "
    "* or nothing updates whatever version is current.",
)

_RETRY_AFTER = {
    "Retry-After": {
        "type": "integer",
        "description": "Seconds to wait before trying again.",
        "x-ms-summary": "Retry After",
    }
}
_ETAG = {
    "ETag": {
        "type": "string",
        "description": "The version of the status, for If-Match.",
        "x-ms-summary": "ETag",
    }
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "schema": _ref("Error")}


_ERRORS = {
    400: _error("The request is not valid; error.target names the parameter or property."),
    401: {"description": "The function key is missing or wrong."},
    404: _error("Not found (or no route matches the path)."),
    412: _error("The status changed since the ETag in If-Match; read it again."),
    413: _error("The request body is over 64 KiB."),
    503: {
        "description": "Table Storage is unavailable or the app is not configured; try again "
        "after Retry-After.",
        "schema": _ref("Error"),
        "headers": _RETRY_AFTER,
    },
}


def _operation(
    operation_id: str,
    summary: str,
    description: str,
    answers: dict[int, dict[str, Any]],
    errors: tuple[int, ...],
    *,
    parameters: tuple[dict[str, Any], ...] = (),
    visibility: str = "important",
    anonymous: bool = False,
    **extensions: Any,
) -> dict[str, Any]:
    """One operation: its answers, then the errors named (each in Graph's error shape), and
    401 unless it is anonymous."""
    statuses = {
        **answers,
        **{status: _ERRORS[status] for status in errors if status not in answers},
    }
    if not anonymous:
        statuses[401] = _ERRORS[401]
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "x-ms-visibility": visibility,
        **extensions,
        "parameters": [copy.deepcopy(parameter) for parameter in parameters],
        "responses": {str(status): statuses[status] for status in sorted(statuses)},
        "security": [] if anonymous else [{"api_key": []}],
    }


_PROFILE_ID = _path_param(
    "id", "Profile ID", "The ID of the School Data Sync profile.", **_ITEM_KEY
)


def _paths() -> dict[str, Any]:
    profile_status = "/education/synchronizationProfiles/{id}/profileStatus"
    jobs = "/servicePrincipals/{servicePrincipalId}/synchronization/jobs"
    runs = "/external/industryData/runs"
    sp_id = _path_param(
        "servicePrincipalId",
        "Service Principal ID",
        "The object ID (a GUID) of the service principal whose provisioning jobs are "
        "monitored (PROVISIONING_SERVICE_PRINCIPAL_IDS).",
        format="uuid",
    )
    run_id = _path_param("id", "Run ID", "The ID of the Industry Data run.", **_ITEM_KEY)
    subscription_id = _path_param(
        "id", "Subscription ID", "The ID of the subscription.", **_ITEM_KEY
    )
    return {
        "/education/synchronizationProfiles": {
            "get": _operation(
                "ListSynchronizationProfiles",
                "List School Data Sync profiles",
                "Lists the cached School Data Sync profiles, each with its profileStatus, "
                "in Graph's shape; a page at a time.",
                {
                    200: {
                        "description": "A page of profiles.",
                        "schema": _ref("SynchronizationProfileList"),
                    }
                },
                (400, 503),
                parameters=(
                    _param(
                        "status",
                        "query",
                        "Statuses",
                        "Only profiles whose status is one of these, comma-separated "
                        "(for example error,quarantined,validationError).",
                        visibility="important",
                    ),
                    _TOP,
                    _SKIPTOKEN,
                ),
            )
        },
        profile_status: {
            "get": _operation(
                "GetProfileStatus",
                "Get the status of a School Data Sync profile",
                "Gets the cached educationSynchronizationProfileStatus of a profile exactly "
                "as Graph sent it, with its ETag.",
                {
                    200: {
                        "description": "The status.",
                        "schema": _ref("ProfileStatus"),
                        "headers": _ETAG,
                    }
                },
                (400, 404, 503),
                parameters=(_PROFILE_ID,),
            ),
            "patch": _operation(
                "UpdateProfileStatus",
                "Update the status of a School Data Sync profile",
                "Changes the cached status of a profile (not Graph's): it stays until Graph's "
                "status changes. With If-Match, only if nobody changed it since.",
                {
                    200: {
                        "description": "The whole updated status.",
                        "schema": _ref("ProfileStatus"),
                        "headers": _ETAG,
                    }
                },
                (400, 404, 412, 413, 503),
                parameters=(
                    _PROFILE_ID,
                    _IF_MATCH,
                    {
                        "name": "body",
                        "in": "body",
                        "required": True,
                        "description": "The properties to change.",
                        "x-ms-summary": "Changes",
                        "x-ms-visibility": "important",
                        "schema": _ref("ProfileStatusPatch"),
                    },
                ),
                visibility="advanced",
            ),
        },
        "/statuses": {
            "get": _operation(
                "ListStatuses",
                "List the health of every monitored item",
                "One row per monitored item of every enabled source: is it broken, since "
                "when, and why. A page at a time.",
                {200: {"description": "A page of items.", "schema": _ref("StatusList")}},
                (400, 503),
                parameters=(
                    _param(
                        "health",
                        "query",
                        "Health",
                        "Only items with one of these healths, comma-separated: healthy, "
                        "warning, error, unknown.",
                        visibility="important",
                    ),
                    _param(
                        "source",
                        "query",
                        "Sources",
                        "Only items of these sources, comma-separated: "
                        "educationSynchronizationProfiles, synchronizationJobs, "
                        "industryDataRuns.",
                    ),
                    _TOP,
                    _SKIPTOKEN,
                ),
            )
        },
        "/statuses/{source}/{id}/history": {
            "get": _operation(
                "GetStatusHistory",
                "Get the status history of an item",
                "The changes of an item's status or health, newest first; a page at a time.",
                {200: {"description": "A page of changes.", "schema": _ref("StatusHistory")}},
                (400, 404, 503),
                parameters=(
                    _path_param(
                        "source",
                        "Source",
                        "The item's source.",
                        enum=list(SOURCES),
                    ),
                    _path_param(
                        "id",
                        "Item ID",
                        "The item's ID, as in the rows of ListStatuses.",
                        **_ITEM_KEY,
                    ),
                    _TOP,
                    _SKIPTOKEN,
                ),
                visibility="advanced",
            )
        },
        jobs: {
            "get": _operation(
                "ListSynchronizationJobs",
                "List the provisioning jobs of a service principal",
                "Lists the cached Entra ID provisioning jobs (synchronizationJob) of a "
                "monitored service principal, each with its whole synchronizationStatus.",
                {200: {"description": "The jobs.", "schema": _ref("SynchronizationJobList")}},
                (400, 404, 503),
                parameters=(sp_id,),
            )
        },
        jobs + "/{jobId}": {
            "get": _operation(
                "GetSynchronizationJob",
                "Get a provisioning job",
                "Gets a cached Entra ID provisioning job with its whole synchronizationStatus, "
                "as Graph sent it.",
                {
                    200: {
                        "description": "The job.",
                        "schema": _ref("SynchronizationJobWithContext"),
                    }
                },
                (400, 404, 503),
                parameters=(
                    sp_id,
                    _path_param("jobId", "Job ID", "The ID of the job.", **_ITEM_KEY),
                ),
            )
        },
        runs: {
            "get": _operation(
                "ListIndustryDataRuns",
                "List Industry Data runs",
                "Lists the cached Industry Data runs (industryDataRun), newest first, in one page.",
                {200: {"description": "The runs.", "schema": _ref("IndustryDataRunList")}},
                (503,),
            )
        },
        runs + "/{id}": {
            "get": _operation(
                "GetIndustryDataRun",
                "Get an Industry Data run",
                "Gets a cached Industry Data run as Graph sent it.",
                {200: {"description": "The run.", "schema": _ref("IndustryDataRunWithContext")}},
                (400, 404, 503),
                parameters=(run_id,),
            )
        },
        runs + "/{id}/getStatistics": {
            "get": _operation(
                "GetIndustryDataRunStatistics",
                "Get the statistics of an Industry Data run",
                "Gets the statistics of a run that finished with errors or warnings (read "
                "from Graph once, when the run finished).",
                {
                    200: {
                        "description": "The statistics.",
                        "schema": _ref("IndustryDataRunStatistics"),
                    }
                },
                (400, 404, 503),
                parameters=(run_id,),
                visibility="advanced",
            )
        },
        "/health": {
            "get": _operation(
                "GetHealth",
                "Get the health of the polls",
                "The last poll of each enabled source and an overall verdict: 200 when "
                "healthy, 503 otherwise. Counts and error codes only, no tenant data.",
                {
                    200: {
                        "description": "Every source is healthy.",
                        "schema": _ref("HealthReport"),
                    },
                    503: {
                        "description": "A source is not healthy or storage is unavailable "
                        "(an app that is not configured answers an Error instead).",
                        "schema": _ref("HealthReport"),
                        "headers": _RETRY_AFTER,
                    },
                },
                (),
                visibility="advanced",
                anonymous=True,
            )
        },
        "/subscriptions": {
            "x-ms-notification-content": {
                "description": "The change of an item's status or health.",
                "schema": _ref("ChangeEvent"),
            },
            "post": _operation(
                "CreateSubscription",
                "When a sync status changes",
                "Triggers when a poll (or an update) changes the status or health of a "
                "monitored item that matches the filter.",
                {
                    201: {
                        "description": "Subscribed; DELETE the Location to unsubscribe.",
                        "schema": _ref("Subscription"),
                        "headers": {
                            "Location": {
                                "type": "string",
                                "description": "The subscription's URL.",
                                "x-ms-summary": "Location",
                            }
                        },
                    }
                },
                (400, 413, 503),
                parameters=(
                    {
                        "name": "body",
                        "in": "body",
                        "required": True,
                        "description": "Where to send changes, and which ones.",
                        "x-ms-summary": "Subscription",
                        "x-ms-visibility": "important",
                        "schema": _ref("SubscriptionRequest"),
                    },
                ),
                **{
                    "x-ms-trigger": "single",
                    "x-ms-trigger-hint": "To see it work now, update a profile's status, "
                    "then wait for the next poll.",
                },
            ),
            "get": _operation(
                "ListSubscriptions",
                "List webhook subscriptions",
                "Lists every webhook subscription, active or disabled.",
                {200: {"description": "The subscriptions.", "schema": _ref("SubscriptionList")}},
                (503,),
                visibility="advanced",
            ),
        },
        "/subscriptions/{id}": {
            "get": _operation(
                "GetSubscription",
                "Get a webhook subscription",
                "Gets a webhook subscription.",
                {200: {"description": "The subscription.", "schema": _ref("Subscription")}},
                (400, 404, 503),
                parameters=(subscription_id,),
                visibility="advanced",
            ),
            "delete": _operation(
                "DeleteSubscription",
                "Delete a webhook subscription",
                "Deletes a webhook subscription; the events waiting for it are dropped.",
                {204: {"description": "Deleted."}},
                (400, 404, 503),
                parameters=(subscription_id,),
                visibility="advanced",
            ),
        },
        "/openapi.json": {
            "get": _operation(
                "GetOpenApiDocument",
                "Get this OpenAPI description",
                "The OpenAPI 2.0 description of this API (the connector's definition).",
                {200: {"description": "This document.", "schema": {"type": "object"}}},
                (),
                visibility="internal",
                anonymous=True,
            )
        },
    }


def build_document() -> dict[str, Any]:
    """The Swagger 2.0 document of the API (a new dict on every call)."""
    return {
        "swagger": "2.0",
        "info": {
            "title": "SyncStatus",
            "description": "Cached Microsoft Graph synchronization statuses (School Data Sync "
            "profiles, Entra ID provisioning jobs, Industry Data runs): is any sync broken, "
            "since when, and why; and a trigger when a status changes.",
            "version": "1.0",
        },
        "host": PLACEHOLDER_HOST,
        "basePath": BASE_PATH,
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": _paths(),
        "definitions": _definitions(),
        "securityDefinitions": {
            "api_key": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}
        },
        "security": [{"api_key": []}],
    }


@functools.cache
def document_json() -> str:
    """The document as served and as committed: 2-space indents, a trailing newline."""
    return json.dumps(build_document(), indent=2) + "\n"
