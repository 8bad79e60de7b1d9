"""Graph resources of Industry Data (beta): industryDataRun, its blocking publicError and the
industryDataRunStatistics that ``getStatistics`` answers."""

from __future__ import annotations

import uuid
from typing import Any

from tools.graph_tenant.common import ID_NAMESPACE

# A run's status is running, failed, completed, completedWithErrors, completedWithWarnings or
# (evolvable enum) unknownFutureValue.
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
