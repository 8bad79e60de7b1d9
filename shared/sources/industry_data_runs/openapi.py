"""How the Industry Data routes and their answers are described in the OpenAPI document
(and so in the Power Automate connector)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shared.core.errors import InvalidInputError, NotFoundError, StorageUnavailableError
from shared.core.openapi import (
    ITEM_KEY,
    GraphResource,
    Int32,
    OpenApiPart,
    operation,
    path_param,
    ref,
)
from shared.sources.industry_data_runs.models import CheckedIndustryDataRun
from shared.sources.industry_data_runs.routes import STATISTICS_SEGMENTS


class PublicErrorDetail(GraphResource):
    """A publicErrorDetail."""

    code: str | None = None
    message: str | None = None
    target: str | None = None


class PublicError(GraphResource):
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


class IndustryDataRunRoleCountMetric(GraphResource):
    """How many people have a role."""

    role: str | None = None
    count: Int32 | None = None


class IndustryDataRunEntityCountMetric(GraphResource):
    """Counts of active and inactive entities."""

    active: Int32 | None = None
    inactive: Int32 | None = None
    total: Int32 | None = None


class IndustryDataActivityStatistics(GraphResource):
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


class AggregatedInboundStatistics(GraphResource):
    """The totals of a run's inbound flows."""

    errors: Int32 | None = None
    warnings: Int32 | None = None
    groups: Int32 | None = None
    matchedPeopleByRole: list[IndustryDataRunRoleCountMetric] | None = None
    memberships: Int32 | None = None
    organizations: Int32 | None = None
    people: Int32 | None = None
    unmatchedPeopleByRole: list[IndustryDataRunRoleCountMetric] | None = None


class IndustryDataRunStatistics(GraphResource):
    """The statistics of an Industry Data run (industryDataRunStatistics) as Graph sent them."""

    odata_context: str = Field(alias="@odata.context", description="The OData context URL.")
    runId: str | None = Field(default=None, description="The run's ID.")
    status: str | None = Field(default=None, description="The run's status.")
    activityStatistics: list[IndustryDataActivityStatistics] | None = None
    inboundTotals: AggregatedInboundStatistics | None = None


def _paths() -> dict[str, Any]:
    runs = "/external/industryData/runs"
    run_id = path_param("id", "Run ID", "The ID of the Industry Data run.", **ITEM_KEY)
    return {
        runs: {
            "get": operation(
                "ListIndustryDataRuns",
                "List Industry Data runs",
                "Lists the cached Industry Data runs (industryDataRun), newest first, in one page.",
                {200: {"description": "The runs.", "schema": ref("IndustryDataRunList")}},
                (StorageUnavailableError,),
            )
        },
        runs + "/{id}": {
            "get": operation(
                "GetIndustryDataRun",
                "Get an Industry Data run",
                "Gets a cached Industry Data run as Graph sent it.",
                {200: {"description": "The run.", "schema": ref("IndustryDataRunWithContext")}},
                (InvalidInputError, NotFoundError, StorageUnavailableError),
                parameters=(run_id,),
            )
        },
        **_statistics_paths(runs, run_id),
    }


def _statistics_paths(runs: str, run_id: dict[str, Any]) -> dict[str, Any]:
    """getStatistics, an OData function: by its short name for flow makers, and in the
    function form Microsoft's SDKs call (the same answer; hidden from flow makers)."""
    errors = (InvalidInputError, NotFoundError, StorageUnavailableError)
    description = (
        "Gets the statistics of a run that finished with errors or warnings (read from Graph "
        "once, when the run finished)."
    )
    short, function = (f"{runs}/{{id}}/{segment}" for segment in STATISTICS_SEGMENTS)

    def answers() -> dict[int, dict[str, Any]]:  # one of its own for each operation
        return {200: {"description": "The statistics.", "schema": ref("IndustryDataRunStatistics")}}

    return {
        short: {
            "get": operation(
                "GetIndustryDataRunStatistics",
                "Get the statistics of an Industry Data run",
                description,
                answers(),
                errors,
                parameters=(run_id,),
                visibility="advanced",
            )
        },
        function: {
            "get": operation(
                "GetIndustryDataRunStatisticsFunction",
                "Get the statistics of an Industry Data run (OData function form)",
                f"{description} The path Microsoft's Graph SDKs call; the same as "
                "GetIndustryDataRunStatistics.",
                answers(),
                errors,
                parameters=(run_id,),
                visibility="internal",
            )
        },
    }


OPENAPI = OpenApiPart(
    paths=_paths,
    models=(IndustryDataRunList, IndustryDataRunWithContext, IndustryDataRunStatistics),
    summaries={"runId": "Run ID", "activityId": "Activity ID"},
    important=frozenset({"startDateTime", "endDateTime", "blockingError"}),
)
