"""How fresh Entra Connect's sync is: the organization's last sync times against
DIRECTORY_SYNC_STALE_AFTER_MINUTES, judged at the time of the poll (the item's context
carries it), so health changes with time alone; when Graph says a stale sync began (its last
sync); and the sentence that says why."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.core.health import (
    CHECKED_AT,
    Document,
    Health,
    HealthRule,
    age_when_checked,
    in_words,
    sentence,
)
from shared.sources.directory_synchronization.const import CONNECT_SYNC_INTERVAL_MINUTES, NAME
from shared.sources.directory_synchronization.settings import STALE_AFTER_SETTING

# The context's key of the bound from the settings (CHECKED_AT: when the item was read).
STALE_AFTER = "staleAfterMinutes"
# Past this share of the bound a healthy sync's reason says it is getting late.
LATE_SHARE = 0.75


def _enabled(document: Document) -> Any:
    return document.get("onPremisesSyncEnabled")


def _age(document: Document, context: Document, field: str) -> timedelta | None:
    """How long before the poll ``field`` was (None when either time is missing or bad)."""
    return age_when_checked(document.get(field), context)


def _stale(document: Document, context: Document, field: str) -> bool:
    age = _age(document, context, field)
    bound = context.get(STALE_AFTER)
    return age is not None and isinstance(bound, int) and age > timedelta(minutes=bound)


def _sync_stale(document: Document, context: Document) -> bool:
    if _enabled(document) is not True or CHECKED_AT not in context:
        return False
    never = document.get("onPremisesLastSyncDateTime") is None
    return never or _stale(document, context, "onPremisesLastSyncDateTime")


HEALTH_RULES: tuple[HealthRule, ...] = (
    HealthRule(
        NAME,
        f"onPremisesSyncEnabled is true and onPremisesLastSyncDateTime is older than "
        f"{STALE_AFTER_SETTING} (120 by default) or missing",
        Health.ERROR,
        _sync_stale,
        began=lambda d, _context: d.get("onPremisesLastSyncDateTime"),
    ),
    HealthRule(
        NAME,
        "onPremisesSyncEnabled is true and onPremisesLastPasswordSyncDateTime (once set) is "
        f"older than {STALE_AFTER_SETTING}",
        Health.WARNING,
        lambda d, c: _enabled(d) is True and _stale(d, c, "onPremisesLastPasswordSyncDateTime"),
        began=lambda d, _context: d.get("onPremisesLastPasswordSyncDateTime"),
    ),
    HealthRule(
        NAME,
        "onPremisesSyncEnabled is false (directory sync was turned off)",
        Health.WARNING,
        lambda d, _context: _enabled(d) is False,
    ),
    HealthRule(
        NAME,
        "onPremisesSyncEnabled is true and the last sync is recent",
        Health.HEALTHY,
        lambda d, c: _enabled(d) is True and CHECKED_AT in c,
    ),
    HealthRule(
        NAME,
        "onPremisesSyncEnabled is null (a cloud-only tenant)",
        Health.HEALTHY,
        lambda d, _context: "onPremisesSyncEnabled" in d and _enabled(d) is None,
    ),
)


def _late(document: Document, context: Document) -> str:
    """``": getting late; an error past 2 h"`` when the last sync is past LATE_SHARE (75%) of
    the bound of DIRECTORY_SYNC_STALE_AFTER_MINUTES but not yet past it (the health is still
    healthy: this only says so); empty otherwise."""
    age = _age(document, context, "onPremisesLastSyncDateTime")
    bound = context.get(STALE_AFTER)
    if age is None or not isinstance(bound, int) or age <= timedelta(minutes=bound) * LATE_SHARE:
        return ""
    return f": getting late; an error past {in_words(timedelta(minutes=bound))}"


def organization_reason(organization: Document, context: Document | None) -> str:
    context = context or {}
    enabled = _enabled(organization)
    if enabled is None:
        return "Cloud-only tenant: directory synchronization (Entra Connect) is not enabled."
    last = _age(organization, context, "onPremisesLastSyncDateTime")
    expected = f"(expected every {CONNECT_SYNC_INTERVAL_MINUTES} min)"
    if enabled is False:
        ago = f"; the last sync was {in_words(last)} ago" if last is not None else ""
        return sentence(f"Directory synchronization was turned off{ago}")
    if last is None:
        return "Directory synchronization is enabled but Graph reports no sync yet."
    text = f"Last directory sync {in_words(last)} ago {expected}"
    if _sync_stale(organization, context):
        return sentence(f"{text}: Entra Connect may have stopped syncing")
    if _stale(organization, context, "onPremisesLastPasswordSyncDateTime"):
        password = _age(organization, context, "onPremisesLastPasswordSyncDateTime")
        assert password is not None  # stale implies a known age
        return sentence(f"{text}, but the last password hash sync was {in_words(password)} ago")
    return sentence(text + _late(organization, context))
