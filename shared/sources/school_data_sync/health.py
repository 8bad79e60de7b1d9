"""How healthy a School Data Sync profile is: its profileStatus's ``status``, and the
sentence that says why (the README's mapping table shows the same rules; a test compares)."""

from __future__ import annotations

from typing import Any

from shared.core.health import Document, Health, HealthRule, sentence
from shared.sources.school_data_sync.const import NAME


def _status(document: Document) -> Any:
    return document.get("status")


HEALTH_RULES: tuple[HealthRule, ...] = (
    HealthRule(
        NAME,
        "status is error, validationError or quarantined",
        Health.ERROR,
        lambda d, _context: _status(d) in ("error", "validationError", "quarantined"),
    ),
    HealthRule(
        NAME, "status is paused", Health.WARNING, lambda d, _context: _status(d) == "paused"
    ),
    HealthRule(
        NAME,
        "status is success, inProgress, extracting or validating",
        Health.HEALTHY,
        lambda d, _context: _status(d) in ("success", "inProgress", "extracting", "validating"),
    ),
)


def profile_reason(status: Document, _statistics: Document | None) -> str:
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
