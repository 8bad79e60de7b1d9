"""The routes of School Data Sync (classic), under ``/api``, in Graph's shapes."""

from __future__ import annotations

import re
from typing import Any

from shared.core.api import ApiCall, PageRequest, Reply, next_link
from shared.core.errors import InvalidInputError
from shared.settings import Settings
from shared.sources.base import Operation, Services
from shared.sources.school_data_sync.cached import CachedProfile
from shared.sources.school_data_sync.models import parse_profile_status_patch
from shared.sources.school_data_sync.profiles import list_profiles, read_profile, update_status
from shared.storage.keys import validate_key

PROFILES_ROUTE = "education/synchronizationProfiles"
PROFILE_STATUS_ROUTE = "education/synchronizationProfiles/{id}/profileStatus"

# More names than the enum has members would only make Table Storage's query too long.
_MAX_STATUS_NAMES = 16
_STATUS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")


async def list_synchronization_profiles(call: ApiCall, services: Services) -> Reply:
    """``GET /api/education/synchronizationProfiles``: cached profiles with their status.

    ``?status=a,b`` keeps profiles in those states; ``$top`` sets the page size; the
    ``@odata.nextLink`` carries an opaque ``$skiptoken``, like Graph's.
    """
    statuses = _status_filter(call.query.get("status"))
    page = PageRequest.of(call)
    profiles, continuation = await list_profiles(
        services.store, statuses=statuses, top=page.top, continuation=page.continuation
    )
    body: dict[str, Any] = {
        "@odata.context": f"{services.settings.graph_base_url}/beta/$metadata#{PROFILES_ROUTE}",
        "value": [_listed_profile(profile) for profile in profiles],
    }
    if continuation:
        filters = {"status": ",".join(statuses)} if statuses else {}
        body["@odata.nextLink"] = next_link(call, page, continuation, filters)
    return Reply(body)


async def get_profile_status(call: ApiCall, services: Services) -> Reply:
    """``GET .../{id}/profileStatus``: the status as Graph sent it, with its ETag."""
    profile_id = validate_key(call.route.get("id", ""))
    profile = await read_profile(services.store, profile_id)
    return _status_reply(profile, services.settings, profile.etag)


async def update_profile_status(call: ApiCall, services: Services) -> Reply:
    """``PATCH .../{id}/profileStatus``: update the cached status (not Graph: Graph has no
    such operation). ``If-Match`` makes it conditional on the caller's ETag."""
    body = call.json_body()
    profile_id = validate_key(call.route.get("id", ""))
    changes = parse_profile_status_patch(body, profile_id).changes()
    settings, store = services.settings, services.store
    profile, etag = await update_status(
        store, settings, profile_id, changes, call.header("If-Match")
    )
    return _status_reply(profile, settings, etag)


OPERATIONS = (
    Operation(
        "list_synchronization_profiles", PROFILES_ROUTE, "GET", list_synchronization_profiles
    ),
    Operation("get_profile_status", PROFILE_STATUS_ROUTE, "GET", get_profile_status),
    Operation("update_profile_status", PROFILE_STATUS_ROUTE, "PATCH", update_profile_status),
)


def _listed_profile(profile: CachedProfile) -> dict[str, Any]:
    return {
        "id": profile.id,
        "displayName": profile.display_name,
        "state": profile.state,
        "profileStatus": profile.status,
    }


def _status_reply(profile: CachedProfile, settings: Settings, etag: str | None) -> Reply:
    context = profile.graph_context or (
        f"{settings.graph_base_url}/beta/$metadata#education/"
        f"synchronizationProfiles('{profile.id}')/profileStatus/$entity"
    )
    return Reply({"@odata.context": context, **profile.status}, etag=etag)


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
