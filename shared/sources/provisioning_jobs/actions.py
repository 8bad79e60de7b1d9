"""Acting on a monitored provisioning job through Graph v1.0: restart (with Graph's
criteria), pause, start. Off unless PROVISIONING_ACTIONS_ENABLED; only jobs the app monitors;
at most one action per job per PROVISIONING_ACTION_COOLDOWN_SECONDS (claimed in a row of its
own before Graph is asked, so two callers cannot both act and no poll erases it; given back
when Graph refuses, since nothing happened); ForceDeletes only with
PROVISIONING_ALLOW_FORCE_DELETES. The action is sent once (never retried: a restart that
timed out may have happened). Every attempt is recorded on the job (who, what, the
criteria, Graph's answer) and goes out as an event of kind ``action``; the job is then read
back and cached at once, its change recorded like a poll's.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared.core.changes import ActionTaken, PendingChange, StatusChange
from shared.core.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    GraphUnavailableError,
    InvalidInputError,
    NotFoundError,
    TooManyRequestsError,
    VersionConflictError,
)
from shared.core.graph_ids import check_graph_id
from shared.core.time import utc_now
from shared.graph.errors import GraphError
from shared.sources.base import date_health
from shared.sources.provisioning_jobs.cached import CachedJob
from shared.sources.provisioning_jobs.const import NAME
from shared.sources.provisioning_jobs.graph import job_url
from shared.sources.provisioning_jobs.ids import job_key
from shared.sources.provisioning_jobs.ids import service_principal_id as principal_id_of
from shared.sources.provisioning_jobs.settings import (
    ACTION_COOLDOWN_SETTING,
    ACTIONS_SETTING,
    FORCE_DELETES_SETTING,
    ProvisioningJobsSettings,
)
from shared.storage.items import (
    CacheWrite,
    ItemUpdate,
    StoredItem,
    merge_write,
    replace_write,
)
from shared.storage.keys import validate_key
from shared.storage.pending import change_time
from shared.storage.recording import JournalEntry, flush_pending

if TYPE_CHECKING:
    from shared.graph.client import GraphClient
    from shared.settings import Settings
    from shared.sources.base import Services
    from shared.sources.provisioning_jobs.source import ProvisioningJobs
    from shared.storage.store import StatusStore

logger = logging.getLogger(__name__)

WRITE_PERMISSION = "Synchronization.ReadWrite.All"
_ATTEMPTS = 5
# What a Graph refusal of an action is passed on as (anything else: Graph is unavailable).
_REFUSALS: dict[int, type[DomainError]] = {
    400: InvalidInputError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
}


@dataclass(frozen=True)
class JobAction:
    """One action asked of a job: which, on what, with what body, by whom."""

    name: str
    service_principal_id: str
    job_id: str
    key: str
    body: dict[str, Any] | None
    by: str
    client_request_id: str


def job_action(
    name: str, service_principal_id: str, job_id: str, body: dict[str, Any] | None, *,
    by: str, client_request_id: str,
) -> JobAction:  # fmt: skip
    """The action asked, its ids checked: the principal's an object id (a GUID, kept lower
    case), the job's by the rule of ids that go into a Graph path (one that fails never
    reaches Graph). InvalidInputError naming the id otherwise."""
    sp_id = principal_id_of(service_principal_id)
    job_id = check_graph_id(job_id, name="jobId")
    return JobAction(
        name=name,
        service_principal_id=sp_id,
        job_id=job_id,
        key=validate_key(job_key(sp_id, job_id), name="jobId"),
        body=body,
        by=by,
        client_request_id=client_request_id,
    )


def check_enabled(settings: ProvisioningJobsSettings) -> None:
    """ForbiddenError naming the setting and the permission, while actions are off."""
    if not settings.actions_enabled:
        raise ForbiddenError(
            f"Job actions are switched off: set {ACTIONS_SETTING}=true and grant the app's "
            f"identity the Graph application permission {WRITE_PERMISSION}."
        )


def check_allowed(settings: ProvisioningJobsSettings, flags: list[str]) -> None:
    """ForbiddenError naming the setting a restart's flags need (the routes have checked
    that actions are on, before reading the request)."""
    if "ForceDeletes" in flags and not settings.allow_force_deletes:
        raise ForbiddenError(
            f"A restart with ForceDeletes (deletions past the accidental-deletion limit) is "
            f"refused: set {FORCE_DELETES_SETTING}=true to allow it."
        )


async def act_on_job(
    source: ProvisioningJobs, services: Services, action: JobAction, flags: list[str]
) -> CachedJob | None:
    """Ask Graph for the action, record it, and return the job as read back (None when the
    read-back failed). Raises a domain error for an action not allowed, too soon, on a job
    not monitored, or refused by Graph (passed on with Graph's code and message)."""
    own = source.own_settings(services.settings)
    check_allowed(own, flags)
    store = services.store
    state = store.state_of(NAME)
    if await store.statuses.get(NAME, action.key) is None:
        raise NotFoundError(f"No monitored provisioning job '{action.key}': only jobs the app "
                            "monitors can be acted on.")  # fmt: skip
    claimed_at = utc_now()
    cooldown = timedelta(seconds=own.action_cooldown_seconds)
    left = await state.claim(action.key, claimed_at, cooldown)
    if left:
        raise TooManyRequestsError(
            f"This job was acted on less than {own.action_cooldown_seconds} s ago; at most one "
            f"action per {ACTION_COOLDOWN_SETTING}.",
            retry_after=max(1, math.ceil(left)),
        )
    async with services.graph() as graph:
        failure = await _ask_graph(graph, action)
        job = None if failure is not None else await _read_back(graph, action)
    if failure is not None and failure.status in _REFUSALS:
        await state.release(action.key, claimed_at)  # nothing happened: no cooldown
    entry = None
    if job is not None:
        entry = source.entry(action.key, job)
        entry.stall_after_hours = own.stall_after_hours
    taken = ActionTaken(
        name=action.name,
        by=action.by,
        criteria=(action.body or {}).get("criteria"),
        clientRequestId=action.client_request_id,
        graphStatus=204 if failure is None else failure.status,
        graphError=None if failure is None else {"code": failure.code, "message": failure.message},
    )
    await _record(source, store, services.settings, action, taken, entry, claimed_at)
    if failure is not None:
        raise _passed_on(failure)
    # A job paused through the app pages nobody until it is started again.
    if action.name == "pause":
        await store.maintenance.hold_for_pause(NAME, action.key, action.by)
    else:
        await store.maintenance.end_pause(NAME, action.key)
    return entry


async def _ask_graph(graph: GraphClient, action: JobAction) -> GraphError | None:
    try:
        await graph.post_action(
            f"{job_url(action.service_principal_id, action.job_id)}/{action.name}",
            {},
            body=action.body,
            headers={"x-ms-client-request-id": action.client_request_id},
        )
    except GraphError as error:
        logger.warning("Graph refused %s of %s: %s", action.name, action.key, error)
        return error
    return None


async def _read_back(graph: GraphClient, action: JobAction) -> dict[str, Any] | None:
    """The job as Graph has it now (None when it cannot be read: the poll will)."""
    try:
        job = await graph.get_json(
            job_url(action.service_principal_id, action.job_id),
            {},
            headers={"x-ms-client-request-id": action.client_request_id},
        )
    except GraphError as error:
        logger.warning(
            "%s of %s done, but reading it back failed: %s", action.name, action.key, error
        )
        return None
    return job if job.get("id") == action.job_id else None


async def _record(
    source: ProvisioningJobs,
    store: StatusStore,
    settings: Settings,
    action: JobAction,
    taken: ActionTaken,
    entry: CachedJob | None,
    claimed_at: str,
) -> None:
    """Write the action (and the change it made, when the job was read back) on the job,
    then move them to the history and the outbox. The action has happened: a failure here
    is logged, not raised, and what landed pending is recorded by the next poll."""
    try:
        for attempt in range(_ATTEMPTS):
            current = await store.statuses.get(NAME, action.key)
            if current is None:
                logger.warning(
                    "%s of %s not recorded: the job left the cache", taken.name, action.key
                )
                return
            write, pending = _written(source, current, taken, entry, claimed_at)
            try:
                etag = await store.statuses.write_one(write)
            except VersionConflictError:
                await asyncio.sleep(random.uniform(0, 0.05 * (attempt + 1)))  # noqa: S311
                continue
            await flush_pending(store, settings, NAME, [JournalEntry(action.key, etag, pending)])
            return
        logger.error("The %s of %s is not recorded: the job kept changing", taken.name, action.key)
    except Exception:  # the action happened: its answer stands, the failure is logged
        logger.exception("The %s of %s is not recorded yet", action.name, action.key)


def _written(
    source: ProvisioningJobs,
    current: StoredItem,
    taken: ActionTaken,
    entry: CachedJob | None,
    claimed_at: str,
) -> tuple[CacheWrite, list[PendingChange]]:
    """The write of the job with the action pending on it (at the time it was claimed:
    before anything it caused), and of the job as read back (with its change) when there is
    one; and every change pending on it then."""
    before = source.summarize(current)
    at = claimed_at
    verb = {"restart": "Restarted", "pause": "Paused", "start": "Started"}[taken.name]
    scope = (taken.criteria or {}).get("resetScope")
    answer = "done" if taken.graphError is None else f"Graph refused: {taken.graphError['code']}"
    action_change = StatusChange(
        kind="action", source=NAME, id=before.id, displayName=before.display_name,
        previousStatus=before.status, status=before.status, previousHealth=before.health,
        health=before.health, changedDateTime=at, path=source.item_path(before.id),
        reason=f"{verb} by {taken.by}" + (f" (resetScope: {scope})" if scope else "")
        + f"; {answer}.",
        action=taken,
    )  # fmt: skip
    pending = [*current.pending, PendingChange(change=action_change)]
    if entry is None:
        return merge_write(current, ItemUpdate(pending=pending)), pending
    kept = source.from_stored(current)
    entry.principal_name, entry.failures = kept.principal_name, kept.failures
    entry.last_checked_date_time = utc_now()  # read back from Graph just now
    date_health(entry, current, at)
    record = entry.record()
    after = source.summarize(StoredItem(record.columns()))
    if (after.status, after.health) != (before.status, before.health):
        changed_at = change_time(utc_now(), current.last_changed)
        pending.append(PendingChange(change=StatusChange(
            source=NAME, id=before.id, displayName=after.display_name,
            previousStatus=before.status, status=after.status,
            previousHealth=before.health, health=after.health, changedDateTime=changed_at,
            reason=after.reason, path=source.item_path(before.id),
        )))  # fmt: skip
    return replace_write(record, current, pending), pending


def _passed_on(error: GraphError) -> DomainError:
    """Graph's refusal in its own words and code: 400, 403, 404 and 409 as they are; anything
    else (5xx, 429, no answer) as Graph being unavailable, after Graph's Retry-After."""
    kind = _REFUSALS.get(error.status or 0)
    if kind is not None:
        return kind(f"Graph: {error.message}", code=error.code)
    answered = f"{error.status} {error.code}" if error.status else error.code
    return GraphUnavailableError(
        f"Graph did not do it ({answered}): {error.message}", retry_after=error.retry_after
    )
