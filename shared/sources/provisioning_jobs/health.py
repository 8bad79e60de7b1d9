"""How healthy a provisioning job is: its synchronizationStatus (the quarantine, the last
run's state, the status code), and the sentence that says why."""

from __future__ import annotations

from typing import Any

from shared.core.health import (
    Document,
    Health,
    HealthRule,
    error_suffix,
    has_text,
    mapping,
    sentence,
)
from shared.sources.provisioning_jobs.const import NAME


def _code(document: Document) -> Any:
    return mapping(document.get("status")).get("code")


def _last_execution_state(document: Document) -> Any:
    return mapping(mapping(document.get("status")).get("lastExecution")).get("state")


HEALTH_RULES: tuple[HealthRule, ...] = (
    HealthRule(
        NAME,
        "status.code is Quarantine",
        Health.ERROR,
        lambda d, _context: _code(d) == "Quarantine",
    ),
    HealthRule(
        NAME,
        "status.lastExecution.state is Failed",
        Health.ERROR,
        lambda d, _context: _last_execution_state(d) == "Failed",
    ),
    HealthRule(
        NAME,
        "status.lastExecution.state is EntryLevelErrors",
        Health.WARNING,
        lambda d, _context: _last_execution_state(d) == "EntryLevelErrors",
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


def job_reason(job: Document, _statistics: Document | None) -> str:
    status = mapping(job.get("status"))
    code = status.get("code")
    last = mapping(status.get("lastExecution"))
    state = last.get("state")
    if code == "Quarantine":
        quarantine = mapping(status.get("quarantine"))
        reason = quarantine.get("reason")
        explanation = QUARANTINE_REASONS.get(reason) if isinstance(reason, str) else None
        text = f"Quarantined: {reason or 'no reason given'}"
        if explanation:
            text += f" ({explanation})"
        detail = mapping(quarantine.get("error")).get("message")
        return sentence(text) + (f" {sentence(detail)}" if has_text(detail) else "")
    if state == "Failed":
        return sentence("Last run failed" + error_suffix(last.get("error")))
    if state == "EntryLevelErrors":
        escrowed = last.get("countEscrowed")
        count = f": {escrowed} entries escrowed" if isinstance(escrowed, int) else ""
        return sentence(f"Last run finished with entry-level errors{count}")
    if code in ("Paused", "NotRun", "NotConfigured"):
        words = {"Paused": "paused", "NotRun": "has not run yet", "NotConfigured": "not configured"}
        verb = "" if code == "NotRun" else "is "
        return sentence(f"Provisioning {verb}{words[code]}")
    if code == "Active" and state == "Succeeded":
        ended = last.get("timeEnded")
        return sentence("Active; the last run succeeded" + (f" at {ended}" if ended else ""))
    return sentence(f"Status code {code!r} with last run state {state!r}")
