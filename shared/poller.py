"""The poll: read every enabled source from Graph and bring the cache up to date, losing
nothing. Sources: School Data Sync profiles (beta), Entra ID provisioning jobs (v1.0) and
Industry Data runs (beta); each is polled on its own and has its own poll record, so one
source failing or refused never stops the others.

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
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.core.changes import StatusChange
from shared.core.errors import InvalidKeyError, StorageUnavailableError
from shared.core.jsontext import ensure_storable, fingerprint, first_problem
from shared.core.time import graph_timestamp, newest_first_key, parse_timestamp, utc_now
from shared.graph import GraphClient, GraphError
from shared.health import assess
from shared.models import (
    JOB_KEY_SEPARATOR,
    EducationSynchronizationProfile,
    EducationSynchronizationProfileStatus,
    IndustryDataRun,
    SynchronizationJob,
    item_path,
)
from shared.notifications import record_changes
from shared.settings import INDUSTRY_DATA_RUNS, PROVISIONING_JOBS, SDS_PROFILES, Settings
from shared.store import (
    CachedItem,
    CachedProfile,
    Change,
    PollRun,
    StatusRow,
    StatusStore,
    get_text,
    job_key,
    put_document,
    status_from_columns,
    validate_key,
)

logger = logging.getLogger(__name__)

# Run statuses after which a run no longer changes; of these, the ones whose statistics
# explain the outcome are fetched once.
FINISHED_RUN_STATUSES = frozenset(
    {"failed", "completed", "completedWithErrors", "completedWithWarnings"}
)
RUN_STATUSES_WITH_STATISTICS = frozenset({"completedWithErrors", "completedWithWarnings"})

CacheEntry = CachedProfile | CachedItem
Model = TypeVar("Model", bound=BaseModel)


async def poll_sync_statuses(settings: Settings, store: StatusStore) -> list[PollRun]:
    """Poll every enabled source once, side by side; return each source's run record (also
    saved). A source that could not record its run fails the invocation, after the others."""
    pollers: dict[str, Callable[[GraphClient, StatusStore, Settings], Awaitable[PollRun]]] = {
        SDS_PROFILES: poll_school_data_sync,
        PROVISIONING_JOBS: poll_provisioning_jobs,
        INDUSTRY_DATA_RUNS: poll_industry_data_runs,
    }
    async with GraphClient.from_settings(settings) as graph:
        results = await asyncio.gather(
            *(pollers[source](graph, store, settings) for source in settings.enabled_sources),
            return_exceptions=True,
        )
    await prune_history(store, settings)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [result for result in results if isinstance(result, PollRun)]


# The poll-run row that records when the history was last pruned (once a day is enough).
HISTORY_PRUNE = "historyRetention"
_PRUNE_EVERY = timedelta(days=1)
_DELIVERED_MARKERS_KEPT = timedelta(days=7)


async def prune_history(store: StatusStore, settings: Settings) -> int:
    """Delete history older than HISTORY_RETENTION_DAYS, at most once a day; never raises."""
    now = datetime.now(UTC)
    try:
        last = {run.source: run for run in await store.list_poll_runs()}.get(HISTORY_PRUNE)
        if last is not None and parse_timestamp(last.started_date_time) > now - _PRUNE_EVERY:
            return 0
        started = utc_now()
        cutoff = now - timedelta(days=settings.history_retention_days)
        removed = await store.prune_history(graph_timestamp(cutoff))
        # Delivered events stay a week as markers (so a change recorded again after a
        # failure is not sent twice), then go.
        settled = await store.prune_outbox(graph_timestamp(now - _DELIVERED_MARKERS_KEPT))
        counts = {"removed": removed, "deliveredEventsRemoved": settled}
        await store.save_poll_run(PollRun(HISTORY_PRUNE, "succeeded", started, utc_now(), counts))
    except Exception:  # pruning is housekeeping: it never fails the poll
        logger.exception("History not pruned this time")
        return 0
    if removed:
        logger.info("Pruned %d changes older than %s from the history", removed, cutoff)
    return removed


@dataclass
class Observation:
    """What a poll read of one source from Graph, ready to compare with the cache."""

    # Items read in full, by id, as they would be cached.
    entries: dict[str, CacheEntry] = field(default_factory=dict)
    # Items listed (or expected) but not read, by id (or a placeholder), with an error code.
    failures: dict[str, str] = field(default_factory=dict)
    # Cached items this poll could not read (beyond ``failures``), with the error code.
    unread: dict[str, str] = field(default_factory=dict)
    # Which cached ids the listing covered completely: those it no longer has are removed.
    removable: Callable[[str], bool] = lambda _item_id: False
    listed: int = 0
    # A listing that failed (all of it, or from some page on).
    error: GraphError | None = None

    @property
    def complete(self) -> bool:
        return self.error is None and not self.failures


# -- School Data Sync (classic) -------------------------------------------------------------


async def poll_school_data_sync(
    graph: GraphClient, store: StatusStore, settings: Settings
) -> PollRun:
    """Poll the School Data Sync profiles and their profileStatus into the cache."""

    async def observe(_cached: dict[str, Any]) -> Observation:
        seen = Observation()
        profiles: list[EducationSynchronizationProfile] = []
        try:
            async for page in graph.list_synchronization_profiles():
                seen.listed += len(page)
                profiles += [
                    profile
                    for profile, _item in _usable(
                        page, EducationSynchronizationProfile, seen.failures
                    )
                ]
        except GraphError as error:
            seen.error = error
        if not seen.error and not seen.failures:
            listed = {profile.id for profile in profiles}
            seen.removable = lambda item_id: item_id not in listed
        statuses = [
            _checked_status(result)
            for result in await graph.get_profile_statuses([profile.id for profile in profiles])
        ]
        for profile, result in zip(profiles, statuses, strict=True):
            if isinstance(result, GraphError):
                seen.failures[profile.id] = result.code
                logger.warning("profileStatus of %s not updated: %s", profile.id, result)
            else:
                seen.entries[profile.id] = _profile_entry(profile, result)
        return seen

    return await _poll_source(store, settings, SDS_PROFILES, observe)


def _checked_status(result: dict[str, Any] | GraphError) -> dict[str, Any] | GraphError:
    """A profileStatus fit to cache, or why it is not."""
    if isinstance(result, GraphError):
        return result
    try:
        EducationSynchronizationProfileStatus.model_validate(result)
        ensure_storable(result)
    except ValueError as error:  # ValidationError included
        return GraphError(200, "invalidResponse", first_problem(error))
    return result


def _profile_entry(
    profile: EducationSynchronizationProfile, status: dict[str, Any]
) -> CachedProfile:
    status = dict(status)
    context = status.pop("@odata.context", None)
    return CachedProfile(
        id=profile.id,
        display_name=profile.displayName,
        state=profile.state,
        status=status,
        graph_hash=fingerprint(status),
        graph_context=context,
        updated_by="poll",
        updated_date_time=utc_now(),
    )


# -- Entra ID provisioning jobs --------------------------------------------------------------


async def poll_provisioning_jobs(
    graph: GraphClient, store: StatusStore, settings: Settings
) -> PollRun:
    """Poll the synchronization jobs of every configured service principal.

    Graph has no tenant-wide list of jobs, so each service principal is listed on its own:
    one failing keeps its jobs' last values (they are not removed), the others go on. Jobs
    of a service principal no longer configured are removed.
    """
    configured = settings.provisioning_service_principal_ids

    async def observe(cached: dict[str, Any]) -> Observation:
        seen = Observation()
        # The client itself keeps GRAPH_MAX_CONCURRENCY requests in flight at most.
        listings = await asyncio.gather(*(_list_jobs(graph, sp_id) for sp_id in configured))
        covered: set[str] = set()
        errors: list[GraphError] = []
        for sp_id, listing in zip(configured, listings, strict=True):
            if isinstance(listing, GraphError):
                seen.failures[sp_id] = listing.code
                prefix = sp_id + JOB_KEY_SEPARATOR
                seen.unread |= {key: listing.code for key in cached if key.startswith(prefix)}
                errors.append(listing)
                logger.warning("Jobs of service principal %s not updated: %s", sp_id, listing)
                continue
            seen.listed += len(listing)
            failures_before = len(seen.failures)
            for job, item in _usable(listing, SynchronizationJob, seen.failures):
                key = job_key(sp_id, job.id)
                seen.entries[key] = _item_entry(PROVISIONING_JOBS, key, item)
            if len(seen.failures) == failures_before:
                covered.add(sp_id)
        if errors and len(errors) == len(configured):
            seen.error = errors[0]  # not one service principal answered
        listed = set(seen.entries)

        def removable(item_id: str) -> bool:
            sp_id = item_id.partition(JOB_KEY_SEPARATOR)[0]
            return sp_id not in configured or (sp_id in covered and item_id not in listed)

        seen.removable = removable
        return seen

    return await _poll_source(store, settings, PROVISIONING_JOBS, observe)


async def _list_jobs(graph: GraphClient, sp_id: str) -> list[Any] | GraphError:
    try:
        return [job async for page in graph.list_synchronization_jobs(sp_id) for job in page]
    except GraphError as error:
        return error


# -- Industry Data runs -----------------------------------------------------------------------


async def poll_industry_data_runs(
    graph: GraphClient, store: StatusStore, settings: Settings
) -> PollRun:
    """Poll the newest INDUSTRY_DATA_RUNS_KEPT runs; a run that finished with errors or
    warnings has its statistics fetched once (a finished run does not change)."""

    async def observe(cached: dict[str, Any]) -> Observation:
        seen = Observation()
        runs: list[tuple[IndustryDataRun, dict[str, Any]]] = []
        try:
            async for page in graph.list_industry_data_runs():
                seen.listed += len(page)
                runs += _usable(page, IndustryDataRun, seen.failures)
        except GraphError as error:
            seen.error = error
        runs.sort(
            key=lambda pair: newest_first_key(pair[0].startDateTime, pair[0].id), reverse=True
        )
        kept = runs[: settings.industry_data_runs_kept]
        if not seen.error and not seen.failures:
            kept_ids = {run.id for run, _item in kept}
            seen.removable = lambda item_id: item_id not in kept_ids
        entries = [_item_entry(INDUSTRY_DATA_RUNS, run.id, item) for run, item in kept]
        for entry in entries:
            previous = cached.get(entry.id)
            if previous is not None:
                entry.statistics = CachedItem.from_entity(previous).statistics
        wanted = [
            entry
            for entry in entries
            if entry.statistics is None
            and entry.resource.get("status") in RUN_STATUSES_WITH_STATISTICS
        ]
        fetched = await asyncio.gather(*(_read_statistics(graph, entry.id) for entry in wanted))
        for entry, result in zip(wanted, fetched, strict=True):
            if isinstance(result, GraphError):
                # The run is cached all the same; its statistics are asked for again next time.
                seen.failures[entry.id] = result.code
                logger.warning("Statistics of run %s not read: %s", entry.id, result)
            else:
                entry.statistics = result
        seen.entries = {entry.id: entry for entry in entries}
        return seen

    return await _poll_source(store, settings, INDUSTRY_DATA_RUNS, observe)


async def _read_statistics(graph: GraphClient, run_id: str) -> dict[str, Any] | GraphError:
    try:
        statistics = await graph.get_industry_data_run_statistics(run_id)
        ensure_storable(statistics)
    except GraphError as error:
        return error
    except ValueError as error:
        return GraphError(200, "invalidResponse", first_problem(error))
    statistics.pop("@odata.context", None)
    return statistics


# -- what every source shares -----------------------------------------------------------------


async def _poll_source(
    store: StatusStore,
    settings: Settings,
    source: str,
    observe: Callable[[dict[str, Any]], Awaitable[Observation]],
) -> PollRun:
    """Read the cache, observe Graph, and write what changed: the rules of the module."""
    run = PollRun(source=source, outcome="failed", started_date_time=utc_now())
    try:
        cached = await store.read_source(source)
        previous = {r.source: r for r in await store.list_poll_runs()}.get(source)
    except StorageUnavailableError as error:
        logger.warning("Could not read the cache of %s: %s", source, error)
        message = "Table Storage is unavailable; the poll changed nothing."
        run.source_error = {"status": None, "code": "storageUnavailable", "message": message}
        return await _finish(store, run)
    run.listed_date_time = previous.listed_date_time if previous else None
    seen = await observe(cached)
    if seen.error is not None:
        run.source_error = seen.error.to_json()
        logger.warning("Listing %s failed: %s", source, seen.error)
    if seen.error is not None and not seen.entries and not seen.listed:
        # Nothing read: keep the whole cache; `unavailable` when Graph refused the source.
        run.outcome = "unavailable" if seen.error.is_refusal else "failed"
        return await _finish(store, run)

    now = run.started_date_time
    changes: list[Change] = []
    unchanged = 0
    for item_id, entry in list(seen.entries.items()):
        try:
            change = _change_for(entry, cached.get(item_id), now)
        except ValueError as error:  # larger than an entity can hold, even compressed
            logger.warning("%s %s cannot be cached: %s", source, item_id, error)
            seen.failures[item_id] = "itemTooLarge"
            del seen.entries[item_id]
            continue
        if change is None:
            unchanged += 1
        else:
            changes.append(change)
    for item_id, code in (seen.failures | seen.unread).items():
        current = cached.get(item_id)
        if current is not None and item_id not in seen.entries:
            change = _mark_failing(current, code, previous)
            if change is not None:
                changes.append(change)
    changes += [
        Change("delete", entity, entity.metadata["etag"])
        for item_id, entity in cached.items()
        if item_id not in seen.entries
        and item_id not in seen.failures
        and item_id not in seen.unread
        and seen.removable(item_id)
    ]
    written = await store.write_source(changes)
    failures = seen.failures | written.failed
    # Changes an earlier poll could not record come first: they happened first.
    pending = _pending_changes(cached)
    history = pending + [
        change
        for change in (
            _status_change(source, write, cached, now)
            for write in changes
            if write.entity["RowKey"] not in written.failed
        )
        if change is not None
    ]
    try:
        # Until a source has been read once, every item is new: history only, no flood of
        # events (a source whose first polls failed counts as not read yet).
        baseline = not cached and (previous is None or previous.listed_date_time is None)
        await record_changes(store, settings, history, notify=not baseline)
        await store.clear_pending_changes(source, {change.id for change in pending})
    except Exception as error:
        # The cache already holds the new values, so no later poll would see these changes
        # again: they wait on their items, and the next poll records them (same event ids,
        # so whatever did get queued is not queued twice).
        logger.warning("%d changes of %s not recorded now: %s", len(history), source, error)
        failures["#history"] = "historyNotRecorded"
        with suppress(Exception):
            await store.keep_pending_changes(source, history)

    if seen.complete:
        run.listed_date_time = now
    run.counts = {
        "listed": seen.listed,
        "unchanged": unchanged,
        "written": written.written,
        "removed": written.removed,
        "failed": len(failures),
    }
    run.errors = [{"code": code, "count": n} for code, n in Counter(failures.values()).items()]
    run.outcome = "succeeded" if seen.complete and not written.failed else "partial"
    return await _finish(store, run)


def _change_for(entry: CacheEntry, current: dict[str, Any] | None, now: str) -> Change | None:
    """What the cache needs so it holds what Graph sent; None when it already does.

    Only a change of what Graph sent rewrites an item: a PATCH made since the last poll
    survives a poll that merely sees a renamed profile. The summary columns (health and why,
    the listing's fields, a cleared poll error) are merged alone when only they differ.
    """
    entry.last_checked_date_time = now
    if current is None:
        entry.health_since = now
        return Change("create", entry.to_entity())
    etag = current.metadata["etag"]
    if current.get("graphHash") != entry.graph_hash:
        same_health = current.get("health") == str(entry.health[0])
        entry.health_since = current.get("healthSince", now) if same_health else now
        return Change("replace", entry.to_entity(), etag)
    columns = _stale_columns(entry, current, now)
    if columns:
        keys = {"PartitionKey": current["PartitionKey"], "RowKey": current["RowKey"]}
        return Change("merge", keys | columns, etag)
    return None


def _stale_columns(entry: CacheEntry, current: dict[str, Any], now: str) -> dict[str, Any]:
    """Columns of an item whose Graph data did not change that still need writing."""
    columns: dict[str, Any] = {}
    if isinstance(entry, CachedProfile):
        listing = entry.profile_columns()
        if current.get("profile") != listing["profile"]:
            columns.update(listing)
        # The cached status may carry a PATCH: its health is judged as cached.
        health, reason = assess(SDS_PROFILES, status_from_columns(current))
    else:
        health, reason = entry.health
        has_statistics = "statistics" in current or "statisticsZ" in current
        if entry.statistics is not None and not has_statistics:
            put_document(columns, "statistics", entry.statistics)
    if current.get("health") != str(health) or current.get("reason") != reason:
        columns["health"], columns["reason"] = str(health), reason
        if current.get("health") != str(health) or not current.get("healthSince"):
            columns["healthSince"] = now
    if current.get("pollError"):
        columns["pollError"] = ""
        columns["lastCheckedDateTime"] = now
    return columns


def _pending_changes(cached: dict[str, Any]) -> list[StatusChange]:
    """Changes an earlier poll kept on their items because it could not record them."""
    pending: list[StatusChange] = []
    for entity in cached.values():
        text = get_text(entity, "pendingChanges")
        if text:
            with suppress(ValueError):
                pending += [StatusChange.model_validate(c) for c in json.loads(text)]
    return sorted(pending, key=lambda change: change.changedDateTime)


def _status_change(
    source: str, write: Change, cached: dict[str, Any], now: str
) -> StatusChange | None:
    """The change of status or health a cache write makes, if it makes one."""
    item_id = write.entity["RowKey"]
    current = cached.get(item_id)
    before = StatusRow.from_entity(current) if current is not None else None
    if write.kind == "delete":
        # A run leaves the cache when newer ones push it out of the window kept: that is
        # not a change of its status.
        if before is None or source == INDUSTRY_DATA_RUNS:
            return None
        after_status, after_health = None, "unknown"
        reason, display_name = "Removed: Graph no longer lists it.", before.display_name
    else:
        merged = {**(current or {}), **write.entity}
        after = StatusRow.from_entity(merged)
        after_status, after_health = after.status, after.health
        reason, display_name = after.reason, after.display_name
    if before is not None and (before.status, before.health) == (after_status, after_health):
        return None
    if current is not None and "health" not in current and before.status == after_status:
        return None  # a row cached before health existed gains its health: not a change
    return StatusChange(
        source=source,  # type: ignore[arg-type]
        id=item_id,
        displayName=display_name,
        previousStatus=before.status if before else None,
        status=after_status,
        previousHealth=before.health if before else None,  # type: ignore[arg-type]
        health=after_health,  # type: ignore[arg-type]
        changedDateTime=now,
        reason=reason,
        path=item_path(source, item_id),
    )


def _mark_failing(current: dict[str, Any], code: str, previous: PollRun | None) -> Change | None:
    """Record on a cached item that the poll could not read it (once per error code), with
    the last time it was read, so /api/statuses can say how fresh it is."""
    if current.get("pollError") == code:
        return None
    last_checked = current.get("lastCheckedDateTime") or ""
    if not current.get("pollError") and previous and previous.listed_date_time:
        last_checked = max(last_checked, previous.listed_date_time)
    keys = {"PartitionKey": current["PartitionKey"], "RowKey": current["RowKey"]}
    columns = {"pollError": code}
    if last_checked:
        columns["lastCheckedDateTime"] = last_checked
    return Change("merge", keys | columns, current.metadata["etag"])


def _usable(
    page: Iterable[Any], model: type[Model], failures: dict[str, str]
) -> list[tuple[Model, dict[str, Any]]]:
    """The entries of a listing page that can be cached, checked and as sent (the JSON is
    what gets cached: a model dump would reorder it); the others are counted as failures
    under a placeholder key (the listing is then incomplete: nothing is removed)."""
    usable: list[tuple[Model, dict[str, Any]]] = []
    for item in page:
        try:
            parsed = model.model_validate(item)
            validate_key(parsed.id)  # type: ignore[attr-defined]
            ensure_storable(item)
        except (ValidationError, InvalidKeyError, ValueError) as error:
            # Logged only: the message may quote tenant data, which health must not show.
            logger.warning("A listed %s is not usable: %s", model.__name__, error)
            failures[f"#listing-{len(failures)}"] = "invalidResponse"
            continue
        usable.append((parsed, item))
    return usable


def _item_entry(source: str, item_id: str, resource: dict[str, Any]) -> CachedItem:
    resource = dict(resource)
    context = resource.pop("@odata.context", None)
    return CachedItem(
        source=source,
        id=item_id,
        resource=resource,
        graph_hash=fingerprint(resource),
        graph_context=context,
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
