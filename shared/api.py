"""What each HTTP route does, in Graph's JSON shapes. Handlers in ``functions/`` only pass
the request's parts in; this module validates them, reads or writes the cache and builds the
response."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import random
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import azure.functions as func

from shared.core.changes import StatusChange
from shared.core.errors import (
    ContentionError,
    InvalidInputError,
    NotFoundError,
    SettingsError,
    StorageUnavailableError,
    VersionConflictError,
)
from shared.core.health import Health
from shared.core.schedule import next_run_after
from shared.core.subscriptions import Subscription, parse_subscription_request
from shared.core.time import newest_first_key, parse_timestamp, utc_now
from shared.core.urlguard import WebhookUrlError, check_url_target
from shared.http import RETRY_AFTER_SECONDS, json_response
from shared.models import (
    JOB_KEY_SEPARATOR,
    item_path,
    parse_profile_status_patch,
)
from shared.notifications import record_changes
from shared.settings import (
    INDUSTRY_DATA_RUNS,
    OBJECT_ID,
    PROVISIONING_JOBS,
    SDS_PROFILES,
    SOURCES,
    get_settings,
)
from shared.store import (
    CachedItem,
    CachedProfile,
    PollRun,
    StatusRow,
    get_status_store,
    job_key,
    validate_key,
)

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 999
# A PATCH without If-Match merges into the latest version; it re-reads this often at most
# when other writers keep getting in first, pausing up to attempt x this many seconds.
_MAX_PATCH_ATTEMPTS = 30
_PATCH_RETRY_PAUSE = 0.01
# More names than the enum has members would only make Table Storage's query too long.
_MAX_STATUS_NAMES = 16
_STATUS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")
# Table Storage's continuation tokens are short printable ASCII (base64 and the like).
_TOKEN_PART = re.compile(r"[\x21-\x7e]{1,1024}")


async def list_synchronization_profiles(url: str, params: Mapping[str, str]) -> func.HttpResponse:
    """``GET /api/education/synchronizationProfiles``: cached profiles with their status.

    ``?status=a,b`` keeps profiles in those states; ``$top`` sets the page size; the
    ``@odata.nextLink`` carries an opaque ``$skiptoken``, like Graph's.
    """
    statuses = _status_filter(params.get("status"))
    top = _page_size(params.get("$top"))
    continuation = _decode_skiptoken(params.get("$skiptoken"))
    profiles, continuation = await get_status_store().list_profiles(
        statuses=statuses, top=top, continuation=continuation
    )
    base = get_settings().graph_base_url
    body: dict[str, Any] = {
        "@odata.context": f"{base}/beta/$metadata#education/synchronizationProfiles",
        "value": [_profile_json(profile) for profile in profiles],
    }
    if continuation:
        filters = {"status": ",".join(statuses)} if statuses else {}
        body["@odata.nextLink"] = _next_link(url, params, top, continuation, filters)
    return json_response(body)


async def list_statuses(url: str, params: Mapping[str, str]) -> func.HttpResponse:
    """``GET /api/statuses``: one flat row per monitored item of every source, for "is any
    sync broken, since when, and why?". ``?health=`` and ``?source=`` filter (comma-separated);
    paging as for the profile list."""
    healths = _name_filter(params.get("health"), "health", [str(h) for h in Health])
    settings = get_settings()
    sources = _name_filter(params.get("source"), "source", list(SOURCES))
    top = _page_size(params.get("$top"))
    continuation = _decode_skiptoken(params.get("$skiptoken"))
    store = get_status_store()
    rows, continuation = await store.list_status_rows(
        sources=sources or list(settings.enabled_sources),
        healths=healths,
        top=top,
        continuation=continuation,
    )
    listed = {run.source: run.listed_date_time for run in await store.list_poll_runs()}
    body: dict[str, Any] = {
        "value": [_status_row_json(row, listed.get(row.source)) for row in rows]
    }
    if continuation:
        filters = {
            name: ",".join(values)
            for name, values in (("health", healths), ("source", sources))
            if values
        }
        body["@odata.nextLink"] = _next_link(url, params, top, continuation, filters)
    return json_response(body)


async def list_synchronization_jobs(service_principal_id: str) -> func.HttpResponse:
    """``GET /api/servicePrincipals/{id}/synchronization/jobs``: the cached jobs, as Graph
    sent them."""
    sp_id = _service_principal_id(service_principal_id)
    jobs = await get_status_store().list_items(
        PROVISIONING_JOBS, id_prefix=sp_id + JOB_KEY_SEPARATOR
    )
    if not jobs and sp_id not in get_settings().provisioning_service_principal_ids:
        message = f"The service principal '{sp_id}' is not monitored"
        raise NotFoundError(f"{message} (see PROVISIONING_SERVICE_PRINCIPAL_IDS).")
    context = f"/v1.0/$metadata#servicePrincipals('{sp_id}')/synchronization/jobs"
    body = {
        "@odata.context": get_settings().graph_base_url + context,
        "value": [job.resource for job in jobs],
    }
    return json_response(body)


async def get_synchronization_job(service_principal_id: str, job_id: str) -> func.HttpResponse:
    """``GET .../synchronization/jobs/{jobId}``: one cached job with its whole status."""
    sp_id = _service_principal_id(service_principal_id)
    key = validate_key(job_key(sp_id, job_id), name="jobId")
    job = await get_status_store().get_item(PROVISIONING_JOBS, key)
    if job is None:
        raise NotFoundError(f"No synchronization job '{job_id}' of '{sp_id}' is cached.")
    context = f"/v1.0/$metadata#servicePrincipals('{sp_id}')/synchronization/jobs/$entity"
    return _item_response(job, context)


async def list_industry_data_runs() -> func.HttpResponse:
    """``GET /api/external/industryData/runs``: the cached runs (the newest
    INDUSTRY_DATA_RUNS_KEPT, at most 999), newest first, in one page."""
    runs = await get_status_store().list_items(INDUSTRY_DATA_RUNS)
    runs.sort(
        key=lambda run: newest_first_key(run.resource.get("startDateTime"), run.id), reverse=True
    )
    base = get_settings().graph_base_url
    return json_response(
        {
            "@odata.context": f"{base}/beta/$metadata#external/industryData/runs",
            "value": [run.resource for run in runs],
        }
    )


async def get_industry_data_run(run_id: str) -> func.HttpResponse:
    """``GET /api/external/industryData/runs/{id}``."""
    run = await _cached_run(run_id)
    return _item_response(run, "/beta/$metadata#external/industryData/runs/$entity")


async def get_industry_data_run_statistics(run_id: str) -> func.HttpResponse:
    """``GET .../runs/{id}/getStatistics``: fetched once, for runs that finished with errors
    or warnings."""
    run = await _cached_run(run_id)
    if run.statistics is None:
        raise NotFoundError(
            f"No statistics of run '{run_id}' are cached: they are read once a run finishes "
            "with errors or warnings."
        )
    base = get_settings().graph_base_url
    context = f"{base}/beta/$metadata#microsoft.graph.industryData.industryDataRunStatistics"
    return json_response({"@odata.context": context, **run.statistics})


async def get_profile_status(profile_id: str) -> func.HttpResponse:
    """``GET .../{id}/profileStatus``: the status as Graph sent it, with its ETag."""
    validate_key(profile_id)
    profile = await get_status_store().get_profile(profile_id)
    if profile is None:
        raise _unknown_profile(profile_id)
    return _status_response(profile, profile.etag)


async def update_profile_status(
    profile_id: str, body: Any, if_match: str | None
) -> func.HttpResponse:
    """``PATCH .../{id}/profileStatus``: update the cached status (not Graph: Graph has no
    such operation). ``If-Match`` makes it conditional on the caller's ETag."""
    validate_key(profile_id)
    changes = parse_profile_status_patch(body, profile_id).changes()
    # `*` matches whatever version exists: like no If-Match, it merges into the latest one.
    expected = if_match.strip() if if_match and if_match.strip() != "*" else None
    store = get_status_store()
    for attempt in range(_MAX_PATCH_ATTEMPTS):
        profile = await store.get_profile(profile_id)
        if profile is None or profile.etag is None:
            raise _unknown_profile(profile_id)
        if expected is not None and expected != profile.etag:
            raise _precondition_failed(profile_id)
        if not changes:
            return _status_response(profile, profile.etag)
        health_before = profile.health[0]
        before_patch = dict(profile.status)
        profile.status.update(changes)
        profile.updated_by = "patch"
        profile.updated_date_time = utc_now()
        if profile.health[0] != health_before or not profile.health_since:
            profile.health_since = profile.updated_date_time
        status_before = before_patch.get("status")
        try:
            etag = await store.replace_profile(profile, etag=profile.etag)
        except VersionConflictError:
            if expected is not None:
                raise
            # Someone else wrote first: merge into their version, after a jittered pause
            # so that writers contending for one status take turns.
            pause = random.uniform(0, _PATCH_RETRY_PAUSE * (attempt + 1))  # noqa: S311 - jitter
            await asyncio.sleep(pause)
            continue
        health_after, reason = profile.health
        if (status_before, health_before) != (profile.status.get("status"), health_after):
            change = StatusChange(
                source=SDS_PROFILES,
                id=profile_id,
                displayName=profile.display_name,
                previousStatus=status_before,
                status=profile.status.get("status"),
                previousHealth=str(health_before),  # type: ignore[arg-type]
                health=str(health_after),  # type: ignore[arg-type]
                changedDateTime=profile.updated_date_time,
                reason=f"Changed through the API. {reason}",
                path=item_path(SDS_PROFILES, profile_id),
            )
            await _record_quietly(change)
        return _status_response(profile, etag)
    raise ContentionError("The status kept changing during the update; try again.")


async def _record_quietly(change: StatusChange) -> None:
    """Keep a PATCH's change in the history and queue its events (sent after the next poll).
    The PATCH itself has landed: a storage hiccup here is logged, not answered with an error."""
    try:
        await record_changes(get_status_store(), get_settings(), [change])
    except StorageUnavailableError as error:
        logger.warning("The change of %s was not kept in history: %s", change.id, error)


async def get_status_history(
    source: str, item_id: str, url: str, params: Mapping[str, str]
) -> func.HttpResponse:
    """``GET /api/statuses/{source}/{id}/history``: the item's changes, newest first."""
    if source not in SOURCES:
        raise InvalidInputError(f"'{source}' is not a source; use one of: {', '.join(SOURCES)}.")
    validate_key(item_id)
    top = _page_size(params.get("$top"))
    continuation = _decode_skiptoken(params.get("$skiptoken"))
    changes, continuation = await get_status_store().list_history(
        source, item_id, top=top, continuation=continuation
    )
    body: dict[str, Any] = {"value": [change.model_dump() for change in changes]}
    if continuation:
        body["@odata.nextLink"] = _next_link(url, params, top, continuation, {})
    return json_response(body)


async def create_subscription(url: str, body: Any) -> func.HttpResponse:
    """``POST /api/subscriptions``: POST every matching change to ``notificationUrl`` from
    now on; 201 with a Location to DELETE (what a Power Automate trigger does)."""
    request = parse_subscription_request(body)
    _check_filter_sources(request.filter.sources if request.filter else None)
    settings = get_settings()
    try:
        await check_url_target(
            request.notificationUrl, allow_insecure=settings.allow_insecure_webhooks
        )
    except WebhookUrlError as error:
        raise InvalidInputError(
            f"The notificationUrl cannot be used: {error}.", target="notificationUrl"
        ) from None
    subscription = Subscription(
        id=str(uuid.uuid4()),
        notificationUrl=request.notificationUrl,
        filter=request.filter,
        status="active",
        createdDateTime=utc_now(),
    )
    await get_status_store().save_subscription(subscription)
    scheme, netloc, *_rest = urlsplit(url)
    location = urlunsplit((scheme, netloc, f"/api/subscriptions/{subscription.id}", "", ""))
    return json_response(subscription.model_dump(), status=201, headers={"Location": location})


def _check_filter_sources(sources: list[str] | None) -> None:
    """The filter's sources are sources the app polls, each named once at most."""
    for index, name in enumerate(sources or []):
        if name not in SOURCES:
            raise InvalidInputError(
                f"'{name}' is not a source; use one or more of: {', '.join(SOURCES)}.",
                target=f"filter.sources.{index}",
            )
    if sources and len(sources) > len(SOURCES):
        raise InvalidInputError(
            f"The filter names more than {len(SOURCES)} sources.", target="filter.sources"
        )


async def list_subscriptions() -> func.HttpResponse:
    subscriptions = await get_status_store().list_subscriptions()
    subscriptions.sort(key=lambda subscription: (subscription.createdDateTime, subscription.id))
    return json_response({"value": [subscription.model_dump() for subscription in subscriptions]})


async def get_subscription(subscription_id: str) -> func.HttpResponse:
    validate_key(subscription_id)
    subscription = await get_status_store().get_subscription(subscription_id)
    if subscription is None:
        raise _unknown_subscription(subscription_id)
    return json_response(subscription.model_dump())


async def delete_subscription(subscription_id: str) -> func.HttpResponse:
    """``DELETE /api/subscriptions/{id}``: no more events; the waiting ones are dropped."""
    validate_key(subscription_id)
    if not await get_status_store().delete_subscription(subscription_id):
        raise _unknown_subscription(subscription_id)
    return func.HttpResponse(status_code=204)


def _unknown_subscription(subscription_id: str) -> NotFoundError:
    return NotFoundError(f"No subscription with id '{subscription_id}'.")


async def health() -> func.HttpResponse:
    """``GET /api/health``: the last poll of each source and a verdict (200 only if healthy).

    Anonymous, so it shows counts and error codes, never the cached tenant data.
    """
    now = datetime.now(UTC)
    checked = utc_now()
    try:
        settings = get_settings()
        store = get_status_store()
    except SettingsError as error:
        body = {"status": "unhealthy", "checkedDateTime": checked, "storage": "unavailable"}
        body |= {"sources": [], "configurationError": str(error)}
        return json_response(body, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    try:
        runs = await store.list_poll_runs()
    except StorageUnavailableError:
        body = {"status": "unhealthy", "checkedDateTime": checked, "storage": "unavailable"}
        return json_response(body, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    polled = {run.source: run for run in runs}
    sources = [
        _source_health(polled[source], settings.poll_schedule, now)
        if source in polled
        else {"source": source, "status": "notPolledYet"}
        for source in settings.enabled_sources
    ]
    verdicts = {source["status"] for source in sources}
    if verdicts == {"healthy"}:
        verdict = "healthy"
    elif verdicts <= {"healthy", "degraded"}:
        verdict = "degraded"
    else:
        verdict = "unhealthy"
    body = {"status": verdict, "checkedDateTime": checked, "storage": "available"}
    body["sources"] = sources
    if verdict == "healthy":
        return json_response(body)
    return json_response(body, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


# How late a poll may be (after the run that should have followed the last one) before the
# source counts as stale: the timer stopped, or polls keep crashing before they finish.
_STALE_GRACE = timedelta(minutes=1)


def _source_health(run: PollRun, schedule: str, now: datetime) -> dict[str, Any]:
    status = {"succeeded": "healthy", "partial": "degraded"}.get(run.outcome, "unavailable")
    last_poll: dict[str, Any] = {
        "outcome": run.outcome,
        "startedDateTime": run.started_date_time,
        "finishedDateTime": run.finished_date_time,
        "counts": run.counts,
        "errors": run.errors,
    }
    if run.source_error:
        last_poll["sourceError"] = run.source_error
    due = next_run_after(schedule, parse_timestamp(run.started_date_time))
    overdue = next_run_after(schedule, due) + _STALE_GRACE
    if now > overdue:
        status = "stale"
    return {"source": run.source, "status": status, "lastPoll": last_poll}


def _status_row_json(row: StatusRow, listed: str | None) -> dict[str, Any]:
    # An item the poll could read was read at its source's last complete listing at least;
    # one it could not read keeps the time it was last read.
    checked = row.last_checked_date_time
    if not row.poll_error and listed and (checked is None or listed > checked):
        checked = listed
    return {
        "source": row.source,
        "id": row.id,
        "displayName": row.display_name,
        "status": row.status,
        "health": row.health,
        "healthSince": row.health_since,
        "lastCheckedDateTime": checked,
        "reason": row.reason,
        "pollError": row.poll_error,
        "path": item_path(row.source, row.id),
    }


def _item_response(item: CachedItem, context_path: str) -> func.HttpResponse:
    context = item.graph_context or f"{get_settings().graph_base_url}{context_path}"
    return json_response({"@odata.context": context, **item.resource})


async def _cached_run(run_id: str) -> CachedItem:
    validate_key(run_id)
    run = await get_status_store().get_item(INDUSTRY_DATA_RUNS, run_id)
    if run is None:
        raise NotFoundError(f"No Industry Data run with id '{run_id}' is cached.")
    return run


def _service_principal_id(raw: str) -> str:
    """Object ids are GUIDs, which Graph matches in any case; the cache keeps them lower."""
    if not OBJECT_ID.fullmatch(raw):
        raise InvalidInputError(
            f"'{raw}' is not a service principal object id (a GUID).", target="id"
        )
    return raw.lower()


def _next_link(
    url: str,
    params: Mapping[str, str],
    top: int,
    continuation: dict[str, str],
    filters: dict[str, str],
) -> str:
    query = {"$top": str(top), "$skiptoken": _encode_skiptoken(continuation), **filters}
    if params.get("code"):  # a caller that sends its key as ?code= needs it on page 2 too
        query["code"] = params["code"]
    scheme, netloc, path, _query, _fragment = urlsplit(url)
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def _profile_json(profile: CachedProfile) -> dict[str, Any]:
    return {
        "id": profile.id,
        "displayName": profile.display_name,
        "state": profile.state,
        "profileStatus": profile.status,
    }


def _status_response(profile: CachedProfile, etag: str | None) -> func.HttpResponse:
    context = profile.graph_context or (
        f"{get_settings().graph_base_url}/beta/$metadata#education/"
        f"synchronizationProfiles('{profile.id}')/profileStatus/$entity"
    )
    headers = {"ETag": etag} if etag else None
    return json_response({"@odata.context": context, **profile.status}, headers=headers)


def _unknown_profile(profile_id: str) -> NotFoundError:
    return NotFoundError(f"No synchronization profile with id '{profile_id}' is cached.")


def _precondition_failed(profile_id: str) -> VersionConflictError:
    return VersionConflictError(
        f"The profileStatus of '{profile_id}' has changed since the ETag in If-Match; "
        "GET it again and retry with the new ETag."
    )


def _status_filter(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    if not names:
        raise InvalidInputError(
            "The status filter is empty; give one or more statuses.", target="status"
        )
    for name in names:
        if not _STATUS_NAME.fullmatch(name):
            raise InvalidInputError(f"'{name}' is not a status name.", target="status")
    names = list(dict.fromkeys(names))
    if len(names) > _MAX_STATUS_NAMES:
        message = f"The status filter names more than {_MAX_STATUS_NAMES} statuses."
        raise InvalidInputError(message, target="status")
    return names


def _name_filter(raw: str | None, name: str, allowed: list[str]) -> list[str] | None:
    if raw is None:
        return None
    values = list(dict.fromkeys(value.strip() for value in raw.split(",") if value.strip()))
    if not values:
        raise InvalidInputError(
            f"The {name} filter is empty; give one or more values.", target=name
        )
    for value in values:
        if value not in allowed:
            raise InvalidInputError(
                f"'{value}' is not a {name}; use one or more of: {', '.join(allowed)}.",
                target=name,
            )
    return values


def _page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    # Length first: int() refuses strings of over 4,300 digits with a ValueError.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_PAGE_SIZE):
        raise InvalidInputError(
            f"$top must be a whole number from 1 to {MAX_PAGE_SIZE}.", target="$top"
        )
    return int(raw)


def _encode_skiptoken(continuation: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(continuation).encode()).decode().rstrip("=")


def _decode_skiptoken(raw: str | None) -> dict[str, str] | None:
    if raw is None:
        return None
    try:
        padded = raw + "=" * (-len(raw) % 4)
        token = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        token = None
    valid_keys = {"PartitionKey", "RowKey"}
    if (
        not isinstance(token, dict)
        or not token
        or not set(token) <= valid_keys
        or not all(isinstance(v, str) and _TOKEN_PART.fullmatch(v) for v in token.values())
    ):
        raise InvalidInputError(
            "The $skiptoken is not valid; use the nextLink as given.", target="$skiptoken"
        )
    return token
