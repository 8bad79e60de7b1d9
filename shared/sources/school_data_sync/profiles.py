"""The cached profiles as the API reads and changes them: one profile, a page of them, and
a PATCH of a status, which merges into the latest version or fails on a stale ETag.

A PATCH changes the app's cache, not Graph (Graph has no such operation): the status stays
until Graph's own status changes (the poll compares what Graph sends with what it sent
before, not with the cache).
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any
from urllib.parse import quote

from shared.core.changes import PendingChange, StatusChange
from shared.core.errors import (
    ContentionError,
    NotFoundError,
    VersionConflictError,
)
from shared.core.health import Health
from shared.core.time import utc_now
from shared.settings import Settings
from shared.sources.school_data_sync.cached import CachedProfile
from shared.sources.school_data_sync.const import NAME
from shared.storage.items import replace_write
from shared.storage.pending import change_time
from shared.storage.recording import JournalEntry, flush_pending
from shared.storage.store import StatusStore
from shared.storage.tables import Continuation

logger = logging.getLogger(__name__)

# A PATCH without If-Match merges into the latest version; it re-reads this often at most
# when other writers keep getting in first, pausing up to attempt x this many seconds.
_MAX_PATCH_ATTEMPTS = 30
_PATCH_RETRY_PAUSE = 0.01


def profile_path(profile_id: str) -> str:
    """Where the API serves a profile's status."""
    return f"/api/education/synchronizationProfiles/{quote(profile_id, safe='')}/profileStatus"


async def read_profile(store: StatusStore, profile_id: str) -> CachedProfile:
    """The cached profile; NotFoundError when there is none."""
    item = await store.statuses.get(NAME, profile_id)
    if item is None:
        raise _unknown_profile(profile_id)
    return CachedProfile.from_stored(item)


async def list_profiles(
    store: StatusStore, *, statuses: list[str] | None, top: int, continuation: Continuation | None
) -> tuple[list[CachedProfile], Continuation | None]:
    """One page of cached profiles in id order, optionally only those with these statuses."""
    items, continuation = await store.statuses.page(
        sources=[NAME], statuses=statuses, top=top, continuation=continuation
    )
    return [CachedProfile.from_stored(item) for item in items], continuation


async def update_status(
    store: StatusStore,
    settings: Settings,
    profile_id: str,
    changes: dict[str, Any],
    if_match: str | None,
) -> tuple[CachedProfile, str]:
    """Apply a PATCH's changes (its body, validated) to a cached status; return the profile
    and its new ETag.

    With ``If-Match`` (other than ``*``) the write is conditional on that ETag
    (VersionConflictError otherwise); without, it merges into whatever version is current,
    re-reading when another writer got in first.
    """
    # `*` matches whatever version exists: like no If-Match, it merges into the latest one.
    expected = if_match.strip() if if_match and if_match.strip() != "*" else None
    for attempt in range(_MAX_PATCH_ATTEMPTS):
        item = await store.statuses.get(NAME, profile_id)
        if item is None or item.etag is None:
            raise _unknown_profile(profile_id)
        profile = CachedProfile.from_stored(item)
        if expected is not None and expected != profile.etag:
            raise _stale_etag(profile_id)
        if not changes:
            return profile, profile.etag
        at = change_time(utc_now(), item.last_changed)  # never before the item's last change
        change = _patch_change(profile, *_apply(profile, changes, at))
        # The change travels with the status it describes, after any still pending.
        pending = item.pending + ([PendingChange(change=change)] if change else [])
        try:
            etag = await store.statuses.write_one(replace_write(profile.record(), item, pending))
        except NotFoundError:
            raise _unknown_profile(profile_id) from None
        except VersionConflictError:
            if expected is not None:
                raise _stale_etag(profile_id) from None
            # Someone else wrote first: merge into their version, after a jittered pause
            # so that writers contending for one status take turns.
            pause = random.uniform(0, _PATCH_RETRY_PAUSE * (attempt + 1))  # noqa: S311 - jitter
            await asyncio.sleep(pause)
            continue
        if pending:
            etag = await _flush_quietly(store, settings, JournalEntry(profile_id, etag, pending))
        return profile, etag
    raise ContentionError("The status kept changing during the update; try again.")


def _apply(profile: CachedProfile, changes: dict[str, Any], at: str) -> tuple[Any, Health]:
    """Change the status in place, at ``at``; return the status and health it had before."""
    status_before, health_before = profile.status.get("status"), profile.health[0]
    profile.status.update(changes)
    profile.updated_by = "patch"
    profile.updated_date_time = at
    if profile.health[0] != health_before or not profile.health_since:
        profile.health_since = profile.updated_date_time
    return status_before, health_before


def _patch_change(
    profile: CachedProfile, status_before: Any, health_before: Health
) -> StatusChange | None:
    """The change a PATCH made, if it changed the status or the health."""
    health_after, reason = profile.health
    if (status_before, health_before) == (profile.status.get("status"), health_after):
        return None
    return StatusChange(
        source=NAME,
        id=profile.id,
        displayName=profile.display_name,
        previousStatus=status_before,
        status=profile.status.get("status"),
        previousHealth=health_before,
        health=health_after,
        changedDateTime=profile.updated_date_time,
        reason=f"Changed through the API. {reason}",
        path=profile_path(profile.id),
    )


async def _flush_quietly(store: StatusStore, settings: Settings, entry: JournalEntry) -> str:
    """Move a PATCH's change to the history and queue its events (sent after the next poll);
    return the item's ETag after. The PATCH itself has landed, its change with it: a storage
    hiccup here is logged, and the change, still pending on its item, is recorded by the next
    poll or PATCH."""
    try:
        flushed = await flush_pending(store, settings, NAME, [entry])
    except Exception as error:  # whatever it is, the PATCH has landed: its answer stands
        logger.warning("The change of %s is not in the history yet: %s", entry.item_id, error)
        return entry.etag
    return flushed.etags.get(entry.item_id, entry.etag)


def _unknown_profile(profile_id: str) -> NotFoundError:
    return NotFoundError(f"No synchronization profile with id '{profile_id}' is cached.")


def _stale_etag(profile_id: str) -> VersionConflictError:
    return VersionConflictError(
        f"The profileStatus of '{profile_id}' has changed since the ETag in If-Match; "
        "GET it again and retry with the new ETag."
    )
