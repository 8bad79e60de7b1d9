"""How healthy a monitored item is: the one mapping from each source's raw status to
``healthy | warning | error | unknown``, and the sentence that says why.

``HEALTH_RULES`` is the table; the README shows the same table (a test compares them). Rules
are tried in order and the first that matches wins; an item no rule matches is ``unknown``,
so a status Graph adds later is never reported as healthy by accident.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.core.health import (
    Document,
    Health,
    HealthRule,
    error_suffix,
    first_matching_health,
    has_text,
    mapping,
    one_line,
    sentence,
)
from shared.settings import INDUSTRY_DATA_RUNS, PROVISIONING_JOBS, SDS_PROFILES


def _sds_status(document: Document) -> Any:
    return document.get("status")


def _job_code(document: Document) -> Any:
    return mapping(document.get("status")).get("code")


def _last_execution_state(document: Document) -> Any:
    return mapping(mapping(document.get("status")).get("lastExecution")).get("state")


def _run_status(document: Document) -> Any:
    return document.get("status")


HEALTH_RULES: tuple[HealthRule, ...] = (
    # School Data Sync (classic): the profileStatus's `status`.
    HealthRule(
        SDS_PROFILES,
        "status is error, validationError or quarantined",
        Health.ERROR,
        lambda d: _sds_status(d) in ("error", "validationError", "quarantined"),
    ),
    HealthRule(
        SDS_PROFILES, "status is paused", Health.WARNING, lambda d: _sds_status(d) == "paused"
    ),
    HealthRule(
        SDS_PROFILES,
        "status is success, inProgress, extracting or validating",
        Health.HEALTHY,
        lambda d: _sds_status(d) in ("success", "inProgress", "extracting", "validating"),
    ),
    # Entra ID provisioning: the job's synchronizationStatus.
    HealthRule(
        PROVISIONING_JOBS,
        "status.code is Quarantine",
        Health.ERROR,
        lambda d: _job_code(d) == "Quarantine",
    ),
    HealthRule(
        PROVISIONING_JOBS,
        "status.lastExecution.state is Failed",
        Health.ERROR,
        lambda d: _last_execution_state(d) == "Failed",
    ),
    HealthRule(
        PROVISIONING_JOBS,
        "status.lastExecution.state is EntryLevelErrors",
        Health.WARNING,
        lambda d: _last_execution_state(d) == "EntryLevelErrors",
    ),
    HealthRule(
        PROVISIONING_JOBS,
        "status.code is Paused, NotRun or NotConfigured",
        Health.WARNING,
        lambda d: _job_code(d) in ("Paused", "NotRun", "NotConfigured"),
    ),
    HealthRule(
        PROVISIONING_JOBS,
        "status.code is Active and status.lastExecution.state is Succeeded",
        Health.HEALTHY,
        lambda d: _job_code(d) == "Active" and _last_execution_state(d) == "Succeeded",
    ),
    # Industry Data: the run's `status`.
    HealthRule(
        INDUSTRY_DATA_RUNS,
        "status is failed or completedWithErrors",
        Health.ERROR,
        lambda d: _run_status(d) in ("failed", "completedWithErrors"),
    ),
    HealthRule(
        INDUSTRY_DATA_RUNS,
        "status is completedWithWarnings",
        Health.WARNING,
        lambda d: _run_status(d) == "completedWithWarnings",
    ),
    HealthRule(
        INDUSTRY_DATA_RUNS,
        "status is running or completed",
        Health.HEALTHY,
        lambda d: _run_status(d) in ("running", "completed"),
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


def assess(
    source: str, document: Document, statistics: Document | None = None
) -> tuple[Health, str]:
    """The health of one item of ``source`` and one sentence saying why.

    ``document`` is the JSON Graph sent (a profileStatus, a synchronizationJob, an
    industryDataRun); ``statistics`` is a finished run's getStatistics answer, if fetched.
    """
    health = first_matching_health([r for r in HEALTH_RULES if r.source == source], document)
    explain = _REASONS[source]
    return health, one_line(explain(document, statistics))


def _sds_reason(status: Document, _statistics: Document | None) -> str:
    value = status.get("status")
    message = status.get("statusMessage")
    labels = {
        "error": "Sync failed",
        "validationError": "Validation failed",
        "quarantined": "Quarantined",
        "paused": "Paused",
        "success": "Synchronized",
        "inProgress": "Sync in progress",
        "extracting": "Extracting data",
        "validating": "Validating data",
    }
    label = labels.get(value) if isinstance(value, str) else None
    text = label or f"Unknown status {value!r}"
    errors = status.get("errorCount")
    if (
        isinstance(errors, int)
        and errors > 0
        and value in ("error", "validationError", "quarantined")
    ):
        text += f" with {errors} {'error' if errors == 1 else 'errors'}"
    if isinstance(message, str) and message.strip():
        text += f": {message.strip()}"
    return sentence(text)


def _job_reason(job: Document, _statistics: Document | None) -> str:
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


def _run_reason(run: Document, statistics: Document | None) -> str:
    value = run.get("status")
    if value == "failed":
        return sentence("Run failed" + error_suffix(run.get("blockingError")))
    if value in ("completedWithErrors", "completedWithWarnings"):
        totals = mapping(mapping(statistics).get("inboundTotals"))
        errors, warnings = totals.get("errors"), totals.get("warnings")
        kind = "errors" if value == "completedWithErrors" else "warnings"
        if isinstance(errors, int) and isinstance(warnings, int):
            return sentence(f"Completed with {errors} errors and {warnings} warnings")
        return sentence(f"Completed with {kind}")
    if value == "running":
        return sentence(f"Running since {run.get('startDateTime')}")
    if value == "completed":
        return sentence(f"Completed at {run.get('endDateTime')}")
    return sentence(f"Unknown run status {value!r}")


_REASONS: dict[str, Callable[[Document, Document | None], str]] = {
    SDS_PROFILES: _sds_reason,
    PROVISIONING_JOBS: _job_reason,
    INDUSTRY_DATA_RUNS: _run_reason,
}
