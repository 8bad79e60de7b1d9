"""The health of the polls, as /api/health reports it: the last poll of each enabled source
and one verdict. It shows counts and error codes only (the route is anonymous: no tenant
data), and says when a source's polls have stopped coming (stale)."""

from __future__ import annotations

from collections import Counter
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.core.errors import SettingsError, StorageUnavailableError
from shared.core.schedule import next_run_after
from shared.core.time import parse_timestamp, utc_now
from shared.settings import Settings
from shared.storage.poll_runs import PollRun
from shared.storage.store import StatusStore
from shared.tenants.registry import every_tenant

# How late a poll may be (after the run that should have followed the last one) before the
# source counts as stale: the timer stopped, or polls keep crashing before they finish.
_STALE_GRACE = timedelta(minutes=1)

Report = dict[str, Any]


def is_healthy(report: Report) -> bool:
    return report["status"] == "healthy"


async def health_report(settings: Settings, store: StatusStore) -> Report:
    """The report: ``healthy`` only when every enabled source's last poll succeeded in time."""
    now = datetime.now(UTC)
    checked = utc_now()
    try:
        polled = await store.poll_runs.by_source()
    except StorageUnavailableError:
        return {"status": "unhealthy", "checkedDateTime": checked, "storage": "unavailable"}
    sources = [
        _source_health(polled[source], settings.poll_schedule, now)
        if source in polled
        else {"source": source, "status": "notPolledYet"}
        for source in settings.enabled_sources
    ]
    # A source Graph has retired is shown, not counted: nothing the operator can restore.
    verdicts = {source["status"] for source in sources} - {"retired"}
    if not verdicts:
        verdict = "unhealthy"  # every source retired: nothing is monitored any more
    elif verdicts == {"healthy"}:
        verdict = "healthy"
    elif verdicts <= {"healthy", "degraded"}:
        verdict = "degraded"
    else:
        verdict = "unhealthy"
    report: Report = {
        "status": verdict,
        "checkedDateTime": checked,
        "storage": "available",
        "sources": sources,
    }
    try:
        tenants = await every_tenant(settings, store)
    except StorageUnavailableError:
        tenants = []
    if len(tenants) > 1:
        # Counts only (the route is anonymous); another tenant's state is never an outage.
        states = Counter(tenant.consent.state for tenant in tenants if tenant.enabled)
        failed = sum(1 for tenant in tenants if tenant.enabled and tenant.pollFailure)
        report["tenants"] = {"count": len(tenants), "byConsent": dict(sorted(states.items()))}
        if failed:
            report["tenants"]["pollFailed"] = failed
    home = next((tenant for tenant in tenants if tenant.home), None)
    if home is not None and home.pollFailure is not None:
        # The home tenant's poll failed on every try of a round: its code (the message,
        # which may quote tenant data, is on /api/tenants/home).
        failure = home.pollFailure
        report["pollFailure"] = {"code": failure.code, "failedDateTime": failure.failedDateTime,
                                 "attempts": failure.attempts}  # fmt: skip
        report["status"] = "unhealthy"
    with suppress(StorageUnavailableError):
        latest = await store.rounds.latest()
        summary = await store.rounds.summary(latest) if latest else None
        if summary is not None:
            report["round"] = {
                "roundId": summary.round_id, "tenants": summary.planned, "done": summary.done,
                "outcomes": dict(sorted(summary.outcomes.items())),
                "duplicates": summary.duplicates,
            }  # fmt: skip
    return report


def unconfigured_report(error: SettingsError) -> Report:
    """The report of an app whose settings are missing or invalid, naming the setting."""
    return {
        "status": "unhealthy",
        "checkedDateTime": utc_now(),
        "storage": "unavailable",
        "sources": [],
        "configurationError": error.message,
    }


def _source_health(run: PollRun, schedule: str, now: datetime) -> dict[str, Any]:
    status = {"succeeded": "healthy", "partial": "degraded", "retired": "retired"}.get(
        run.outcome, "unavailable"
    )
    last_poll: dict[str, Any] = {
        "outcome": run.outcome,
        "startedDateTime": run.started_date_time,
        "finishedDateTime": run.finished_date_time,
        "counts": run.counts,
        "errors": run.errors,
    }
    if run.source_error:
        last_poll["sourceError"] = run.source_error
    if run.retired_since:
        last_poll["retiredSince"] = run.retired_since
    if run.details:
        last_poll["details"] = run.details
    due = next_run_after(schedule, parse_timestamp(run.started_date_time))
    overdue = next_run_after(schedule, due) + _STALE_GRACE
    if now > overdue and status != "retired":  # a retired source is asked once a day
        status = "stale"
    return {"source": run.source, "status": status, "lastPoll": last_poll}
