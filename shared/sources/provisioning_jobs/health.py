"""How healthy a provisioning job is: its synchronizationStatus (the quarantine, the last
run's state, the status code), whether its cycles stopped coming (judged at the time of the
poll, which the item's context carries: this changes with time alone), when Graph says the
condition began, and the sentence that says why, with the failures the provisioning logs show
when they are read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.core.health import (
    Document,
    Health,
    HealthRule,
    age_when_checked,
    at_time,
    error_suffix,
    graph_time,
    has_text,
    mapping,
    sentence,
)
from shared.core.time import parse_timestamp
from shared.sources.provisioning_jobs.const import NAME
from shared.sources.provisioning_jobs.settings import STALL_AFTER_SETTING

# The context's keys (CHECKED_AT: when the job was read): the stall bound, the
# provisioning-log summary.
STALL_AFTER = "stallAfterHours"
FAILURES = "failures"
# How often provisioning cycles run: what a stalled job's reason says is expected.
CYCLE_MINUTES = 40


def _code(document: Document) -> Any:
    return mapping(document.get("status")).get("code")


def _last_execution(document: Document) -> Document:
    return mapping(mapping(document.get("status")).get("lastExecution"))


def _last_execution_state(document: Document) -> Any:
    return _last_execution(document).get("state")


def _last_execution_began(document: Document, _context: Document) -> Any:
    """When the last cycle (the one that failed, or had entry-level errors) began."""
    return _last_execution(document).get("timeBegan")


def _quarantine_began(document: Document, _context: Document) -> Any:
    """When the quarantine was first imposed (``seriesBegan``: a series lasts until it is
    lifted; ``currentBegan`` moves each time Graph evaluates it again), or ``currentBegan``
    when Graph sends no series."""
    quarantine = mapping(mapping(document.get("status")).get("quarantine"))
    series = quarantine.get("seriesBegan")
    return series if graph_time(series) is not None else quarantine.get("currentBegan")


def _cycle_ends(document: Document) -> tuple[Any, Any]:
    """When the last successful cycle ended (lastSuccessfulExecution, or the last run when it
    succeeded), and when the last cycle of any outcome ended (or began, when it has not)."""
    status = mapping(document.get("status"))
    last = mapping(status.get("lastExecution"))
    success = mapping(status.get("lastSuccessfulExecution")).get("timeEnded")
    if not has_text(success) and last.get("state") == "Succeeded":
        success = last.get("timeEnded")
    latest = [t for t in (last.get("timeEnded") or last.get("timeBegan"), success) if has_text(t)]
    return success, max(latest, key=parse_timestamp, default=None)


def silence(document: Document, context: Document) -> timedelta | None:
    """How long an Active job has gone without a successful cycle, when no cycle at all
    (of any outcome) has ended within the bound in ``context`` (None otherwise, or when the
    context has no time): cycles that stopped coming, which nothing in the job says."""
    bound = context.get(STALL_AFTER)
    if _code(document) != "Active" or not isinstance(bound, (int, float)):
        return None
    success, latest = _cycle_ends(document)
    quiet = age_when_checked(latest, context)
    if quiet is None or quiet <= timedelta(hours=bound):
        return None
    return age_when_checked(success, context) or quiet


def stalled_since(document: Document, _context: Document) -> Any:
    """When the last successful cycle ended (what ``silence`` counts from), or the last cycle
    of any outcome when Graph names no successful one."""
    success, latest = _cycle_ends(document)
    return success if graph_time(success) is not None else latest


HEALTH_RULES: tuple[HealthRule, ...] = (
    HealthRule(
        NAME,
        "status.code is Quarantine",
        Health.ERROR,
        lambda d, _context: _code(d) == "Quarantine",
        began=_quarantine_began,
    ),
    HealthRule(
        NAME,
        "status.lastExecution.state is Failed",
        Health.ERROR,
        lambda d, _context: _last_execution_state(d) == "Failed",
        began=_last_execution_began,
    ),
    HealthRule(
        NAME,
        "status.code is Active and no cycle (status.lastExecution, "
        f"status.lastSuccessfulExecution) ended in the last {STALL_AFTER_SETTING} (24 by "
        "default)",
        Health.ERROR,
        lambda d, context: silence(d, context) is not None,
        began=stalled_since,
    ),
    HealthRule(
        NAME,
        "status.lastExecution.state is EntryLevelErrors",
        Health.WARNING,
        lambda d, _context: _last_execution_state(d) == "EntryLevelErrors",
        began=_last_execution_began,
    ),
    HealthRule(
        NAME,
        "status.code is Paused, NotRun or NotConfigured",
        Health.WARNING,
        lambda d, _context: _code(d) in ("Paused", "NotRun", "NotConfigured"),
    ),
    HealthRule(
        NAME,
        "status.code is Active and status.lastExecution.state is Succeeded",
        Health.HEALTHY,
        lambda d, _context: _code(d) == "Active" and _last_execution_state(d) == "Succeeded",
    ),
)


# What the poll can read about a provisioning quarantine, by synchronizationQuarantine.reason.
QUARANTINE_REASONS = {
    "EncounteredBaseEscrowThreshold": "the number of failed exports passed the base threshold",
    "EncounteredTotalEscrowThreshold": "the total number of failed exports passed the threshold",
    "EncounteredEscrowProportionThreshold": "more than 40% of exports failed",
    "EncounteredQuarantineException": "the provisioning service hit an unexpected error",
    "QuarantinedOnDemand": "an administrator quarantined the job",
    "TooManyDeletes": "the run would delete more objects than the accidental-deletion limit",
    "IngestionInterrupted": "ingestion was interrupted",
    "Unknown": "Graph does not say why",
}


def job_reason(job: Document, context: Document | None) -> str:
    """Why the job has its health, then what the provisioning logs say failed."""
    context = context or {}
    failed = failures_sentence(mapping(context.get(FAILURES)))
    return status_reason(job, context) + (f" {failed}" if failed else "")


def failures_sentence(summary: Document) -> str:
    """``7 users failed to provision in the last 24 h, mostly <code>.`` (empty: none)."""
    count = summary.get("failedObjects")
    if not isinstance(count, int) or count <= 0:
        return ""
    kinds = summary.get("identityTypes")
    kind = kinds[0].lower() if isinstance(kinds, list) and len(kinds) == 1 else "object"
    noun = kind if count == 1 else f"{kind}s"
    text = f"{count} {noun} failed to provision in the last 24 h"
    top = summary.get("topErrors")
    if isinstance(top, list) and top and isinstance(top[0], dict) and top[0].get("errorCode"):
        text += f", mostly {top[0]['errorCode']}" if len(top) > 1 else f": {top[0]['errorCode']}"
    return sentence(text)


def status_reason(job: Document, context: Document) -> str:
    status = mapping(job.get("status"))
    code = status.get("code")
    last = mapping(status.get("lastExecution"))
    state = last.get("state")
    if code == "Quarantine":
        quarantine = mapping(status.get("quarantine"))
        reason = quarantine.get("reason")
        explanation = QUARANTINE_REASONS.get(reason) if isinstance(reason, str) else None
        since = at_time(_quarantine_began(job, context))
        text = f"Quarantined{f' since {since[3:]}' if since else ''}: {reason or 'no reason given'}"
        if explanation:
            text += f" ({explanation})"
        detail = mapping(quarantine.get("error")).get("message")
        return sentence(text) + (f" {sentence(detail)}" if has_text(detail) else "")
    if state == "Failed":
        return sentence("Last run failed" + error_suffix(last.get("error")))
    quiet = silence(job, context)
    if quiet is not None:
        hours = int(quiet.total_seconds() // 3600)
        return sentence(
            f"No successful provisioning cycle for {hours} h (expected every {CYCLE_MINUTES} min)"
        )
    if state == "EntryLevelErrors":
        escrowed = last.get("countEscrowed")
        count = f": {escrowed} entries escrowed" if isinstance(escrowed, int) else ""
        return sentence(f"Last run finished with entry-level errors{count}")
    if code in ("Paused", "NotRun", "NotConfigured"):
        words = {"Paused": "paused", "NotRun": "has not run yet", "NotConfigured": "not configured"}
        verb = "" if code == "NotRun" else "is "
        return sentence(f"Provisioning {verb}{words[code]}")
    if code == "Active" and state == "Succeeded":
        ended = at_time(last.get("timeEnded"))
        return sentence("Active; the last run succeeded" + (f" {ended}" if ended else ""))
    return sentence(f"Status code {code!r} with last run state {state!r}")
