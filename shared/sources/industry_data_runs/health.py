"""How healthy an Industry Data run is: its ``status``, and the sentence that says why (with
the error and warning totals of its statistics, when they were read)."""

from __future__ import annotations

from typing import Any

from shared.core.health import Document, Health, HealthRule, error_suffix, mapping, sentence
from shared.sources.industry_data_runs.const import NAME


def _status(document: Document) -> Any:
    return document.get("status")


HEALTH_RULES: tuple[HealthRule, ...] = (
    HealthRule(
        NAME,
        "status is failed or completedWithErrors",
        Health.ERROR,
        lambda d, _context: _status(d) in ("failed", "completedWithErrors"),
    ),
    HealthRule(
        NAME,
        "status is completedWithWarnings",
        Health.WARNING,
        lambda d, _context: _status(d) == "completedWithWarnings",
    ),
    HealthRule(
        NAME,
        "status is running or completed",
        Health.HEALTHY,
        lambda d, _context: _status(d) in ("running", "completed"),
    ),
)


def run_reason(run: Document, statistics: Document | None) -> str:
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
