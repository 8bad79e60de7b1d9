"""The poll: read every status from Graph and bring the cache up to date, losing nothing.

Rules (DESIGN.md):
- a cached status is rewritten only when the status Graph sends differs from the one it sent
  at the previous poll (a fingerprint is kept), so a poll that finds nothing new writes
  nothing and a PATCH made in between survives until Graph changes it (a renamed profile
  only has its listing fields merged);
- one item failing (timeout, 5xx, bad JSON, a throttled write) keeps its last good value and
  is reported;
- an item is removed only after a complete, successful listing no longer contains it;
- a source Graph refuses (4xx on the listing) is reported with Graph's code and message,
  and its cached data is kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from shared.errors import ApiError, StorageUnavailableError
from shared.graph import GraphClient, GraphError
from shared.models import (
    EducationSynchronizationProfile,
    EducationSynchronizationProfileStatus,
    utc_now,
)
from shared.settings import Settings
from shared.store import (
    PROFILES_SOURCE,
    CachedProfile,
    Change,
    PollRun,
    StatusStore,
    validate_key,
)

logger = logging.getLogger(__name__)


async def poll_sync_statuses(settings: Settings, store: StatusStore) -> list[PollRun]:
    """Poll every enabled source once; return each source's run record (also saved)."""
    async with GraphClient.from_settings(settings) as graph:
        return [await poll_school_data_sync(graph, store, settings.graph_max_concurrency)]


@dataclass
class _Listing:
    profiles: list[EducationSynchronizationProfile] = field(default_factory=list)
    # Entries that could not be used, by a placeholder key, with their error code.
    invalid: dict[str, str] = field(default_factory=dict)
    complete: bool = False
    error: GraphError | None = None


async def poll_school_data_sync(
    graph: GraphClient, store: StatusStore, max_concurrency: int
) -> PollRun:
    """Poll the School Data Sync profiles and their profileStatus into the cache."""
    run = PollRun(source=PROFILES_SOURCE, outcome="failed", started_date_time=utc_now())
    listing = await _list_profiles(graph)
    if listing.error is not None and not listing.profiles:
        # Nothing listed: keep the whole cache; `unavailable` when Graph refused the source.
        run.outcome = "unavailable" if listing.error.is_refusal else "failed"
        run.source_error = listing.error.to_json()
        logger.warning("Listing %s failed: %s", PROFILES_SOURCE, listing.error)
        return await _finish(store, run)
    try:
        cached = await store.read_source(PROFILES_SOURCE)
    except StorageUnavailableError as error:
        logger.warning("Could not read the cache of %s: %s", PROFILES_SOURCE, error)
        message = "Table Storage is unavailable; the poll changed nothing."
        run.source_error = {"status": None, "code": "storageUnavailable", "message": message}
        return await _finish(store, run)

    failures = dict(listing.invalid)
    changes: list[Change] = []
    unchanged = 0
    statuses = await _fetch_statuses(graph, listing.profiles, max_concurrency)
    for profile, result in zip(listing.profiles, statuses, strict=True):
        if isinstance(result, GraphError):
            failures[profile.id] = result.code
            logger.warning("profileStatus of %s not updated: %s", profile.id, result)
            continue
        change = _change_for(_cache_entry(profile, result), cached.get(profile.id))
        if change is None:
            unchanged += 1
        else:
            changes.append(change)
    if listing.complete:
        listed = {profile.id for profile in listing.profiles}
        changes += [
            Change("delete", e, e.metadata["etag"]) for k, e in cached.items() if k not in listed
        ]
    written = await store.write_source(changes)
    failures.update(written.failed)

    run.counts = {
        "listed": len(listing.profiles) + len(listing.invalid),
        "unchanged": unchanged,
        "written": written.written,
        "removed": written.removed,
        "failed": len(failures),
    }
    run.errors = [{"code": code, "count": n} for code, n in Counter(failures.values()).items()]
    if listing.error is not None:
        run.source_error = listing.error.to_json()
    run.outcome = "succeeded" if listing.complete and not failures else "partial"
    return await _finish(store, run)


def _change_for(entry: CachedProfile, current: dict[str, Any] | None) -> Change | None:
    """What the cache needs so it holds what Graph sent; None when it already does.

    Only a change of Graph's status rewrites the status: a PATCH made since the last poll
    survives a poll that merely sees a renamed profile.
    """
    if current is None:
        return Change("create", entry.to_entity())
    etag = current.metadata["etag"]
    if current.get("graphHash") != entry.graph_hash:
        return Change("replace", entry.to_entity(), etag)
    profile_columns = entry.profile_columns()
    if current.get("profile") != profile_columns["profile"]:
        keys = {"PartitionKey": PROFILES_SOURCE, "RowKey": entry.id}
        return Change("merge", keys | profile_columns, etag)
    return None


async def _list_profiles(graph: GraphClient) -> _Listing:
    """Every profile Graph lists; a failure on a later page keeps what came before it, and an
    unusable entry is counted and skipped (the listing is then incomplete: no removals)."""
    listing = _Listing()
    try:
        async for page in graph.list_synchronization_profiles():
            for item in page:
                try:
                    listing.profiles.append(_parse_profile(item))
                except ValueError:
                    listing.invalid[f"#listing-{len(listing.invalid)}"] = "invalidResponse"
    except GraphError as error:
        listing.error = error
        return listing
    listing.complete = not listing.invalid
    return listing


def _parse_profile(item: Any) -> EducationSynchronizationProfile:
    try:
        profile = EducationSynchronizationProfile.model_validate(item)
        validate_key(profile.id)
    except (ValidationError, ApiError) as error:
        # Logged only: the message may quote tenant data, which health must not show.
        logger.warning("A listed profile is not usable: %s", error)
        raise ValueError("unusable profile in the listing") from None
    return profile


async def _fetch_statuses(
    graph: GraphClient, profiles: list[EducationSynchronizationProfile], max_concurrency: int
) -> list[dict[str, Any] | GraphError]:
    """Each profile's profileStatus (or the GraphError it failed with), at most
    ``max_concurrency`` requests in flight."""
    limit = asyncio.Semaphore(max_concurrency)

    async def fetch(profile_id: str) -> dict[str, Any] | GraphError:
        async with limit:
            try:
                status = await graph.get_profile_status(profile_id)
                EducationSynchronizationProfileStatus.model_validate(status)
                json.dumps(status, ensure_ascii=False).encode()  # storable: no lone surrogate
            except GraphError as error:
                return error
            except UnicodeEncodeError:
                return GraphError(200, "invalidResponse", "The status holds a lone surrogate.")
            except ValidationError as error:
                detail = error.errors()[0]
                where = ".".join(str(part) for part in detail["loc"])
                return GraphError(200, "invalidResponse", f"{where}: {detail['msg']}")
            return status

    return await asyncio.gather(*(fetch(profile.id) for profile in profiles))


def _cache_entry(profile: EducationSynchronizationProfile, status: dict[str, Any]) -> CachedProfile:
    status = dict(status)
    context = status.pop("@odata.context", None)
    fingerprint = hashlib.sha256(
        json.dumps(status, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    return CachedProfile(
        id=profile.id,
        display_name=profile.displayName,
        state=profile.state,
        status=status,
        graph_hash=fingerprint,
        graph_context=context,
        updated_by="poll",
        updated_date_time=utc_now(),
    )


async def _finish(store: StatusStore, run: PollRun) -> PollRun:
    run.finished_date_time = utc_now()
    try:
        await store.save_poll_run(run)
    except StorageUnavailableError:
        # Health cannot learn of this poll; the invocation fails so the host's log shows it.
        logger.error("Polled %s (%s) but could not record it", run.source, run.outcome)
        raise
    logger.info(
        "Polled %s: %s %s errors=%s", run.source, run.outcome, run.counts, run.errors or "none"
    )
    return run
