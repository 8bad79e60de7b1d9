"""The poll: read every status from Graph and bring the cache up to date, losing nothing.

Rules (DESIGN.md):
- a cached item is rewritten only when what Graph sends differs from what Graph sent at the
  previous poll (a fingerprint is kept), so a poll that finds nothing new writes nothing and
  a PATCH made in between survives until Graph changes;
- one item failing (timeout, 5xx, bad JSON) keeps its last good value and is reported;
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

from shared.errors import ApiError
from shared.graph import GraphClient, GraphError
from shared.models import (
    EducationSynchronizationProfile,
    EducationSynchronizationProfileStatus,
    utc_now,
)
from shared.settings import Settings
from shared.store import PROFILES_SOURCE, CachedProfile, PollRun, StatusStore, validate_key

logger = logging.getLogger(__name__)


async def poll_sync_statuses(settings: Settings, store: StatusStore) -> list[PollRun]:
    """Poll every enabled source once; return each source's run record (also saved)."""
    async with GraphClient.from_settings(settings) as graph:
        return [await poll_school_data_sync(graph, store, settings.graph_max_concurrency)]


@dataclass
class _Listing:
    profiles: list[EducationSynchronizationProfile] = field(default_factory=list)
    complete: bool = False
    error: GraphError | None = None


async def poll_school_data_sync(
    graph: GraphClient, store: StatusStore, max_concurrency: int
) -> PollRun:
    """Poll the School Data Sync profiles and their profileStatus into the cache."""
    run = PollRun(source=PROFILES_SOURCE, outcome="running", started_date_time=utc_now())
    listing = await _list_profiles(graph)
    if listing.error is not None and not listing.profiles:
        # Nothing listed: keep the whole cache; `unavailable` when Graph refused the source.
        run.outcome = "unavailable" if listing.error.is_refusal else "failed"
        run.source_error = listing.error.to_json()
        logger.warning("Listing %s failed: %s", PROFILES_SOURCE, listing.error)
        return await _finish(store, run)

    cached = await store.read_source(PROFILES_SOURCE)
    failures: dict[str, str] = {}
    upserts: list[tuple[dict[str, Any], str | None]] = []
    unchanged = 0
    statuses = await _fetch_statuses(graph, listing.profiles, max_concurrency)
    for profile, result in zip(listing.profiles, statuses, strict=True):
        if isinstance(result, GraphError):
            failures[profile.id] = result.code
            logger.warning("profileStatus of %s not updated: %s", profile.id, result)
            continue
        entry = _cache_entry(profile, result)
        current = cached.get(profile.id)
        if current is not None and current.get("graphHash") == entry.graph_hash:
            unchanged += 1
            continue
        upserts.append((entry.to_entity(), current.metadata["etag"] if current else None))

    removals: list[tuple[str, str]] = []
    if listing.complete:
        listed = {profile.id for profile in listing.profiles}
        removals = [(key, e.metadata["etag"]) for key, e in cached.items() if key not in listed]
    written = await store.write_source(PROFILES_SOURCE, upserts=upserts, removals=removals)
    failures.update(written.failed)

    run.counts = {
        "listed": len(listing.profiles),
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


async def _list_profiles(graph: GraphClient) -> _Listing:
    """Every profile Graph lists; a failure on a later page keeps what came before it."""
    listing = _Listing()
    try:
        async for page in graph.list_synchronization_profiles():
            for item in page:
                listing.profiles.append(_parse_profile(item))
    except GraphError as error:
        listing.error = error
        return listing
    listing.complete = True
    return listing


def _parse_profile(item: Any) -> EducationSynchronizationProfile:
    try:
        profile = EducationSynchronizationProfile.model_validate(item)
        validate_key(profile.id)
    except (ValidationError, ApiError) as error:
        # An unusable entry makes the listing incomplete: nothing may be removed after it.
        raise GraphError(
            200, "invalidResponse", f"A listed profile is not usable: {error}"
        ) from error
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
    sent = {"profile": profile.model_dump(), "status": status}
    fingerprint = hashlib.sha256(
        json.dumps(sent, sort_keys=True, ensure_ascii=False).encode()
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
    await store.save_poll_run(run)
    logger.info(
        "Polled %s: %s %s errors=%s", run.source, run.outcome, run.counts, run.errors or "none"
    )
    return run
