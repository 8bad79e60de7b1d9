"""How healthy an Industry Data run is: its ``status``, since its ``startDateTime``, and the
sentence that says why (with the error and warning totals of its statistics, when they were
read)."""

from __future__ import annotations

from typing import Any

from shared.core.health import (
    Document,
    Health,
    HealthRule,
    at_time,
    error_suffix,
    mapping,
    sentence,
)
from shared.sources.industry_data_runs.const import NAME


def _status(document: Document) -> Any:
    return document.get("status")


def _started(document: Document, _context: Document) -> Any:
    """A run is one execution: whatever it came to began when it started."""
    return document.get("startDateTime")


HEALTH_RULES: tuple[HealthRule, ...] = (
    HealthRule(
        NAME,
        "status is failed or completedWithErrors",
        Health.ERROR,
        lambda d, _context: _status(d) in ("failed", "completedWithErrors"),
        began=_started,
    ),
    HealthRule(
        NAME,
        "status is completedWithWarnings",
        Health.WARNING,
        lambda d, _context: _status(d) == "completedWithWarnings",
        began=_started,
    ),
    HealthRule(
        NAME,
        "status is running or completed",
        Health.HEALTHY,
        lambda d, _context: _status(d) in ("running", "completed"),
        began=_started,
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
        started = at_time(run.get("startDateTime"))
        return sentence("Running" + (f", started {started}" if started else ""))
    if value == "completed":
        ended = at_time(run.get("endDateTime"))
        return sentence("Completed" + (f" {ended}" if ended else ""))
    return sentence(f"Unknown run status {value!r}")
