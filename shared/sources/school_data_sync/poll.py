"""How a poll reads School Data Sync (classic): the complete listing of profiles, then every
profile's status, 20 to a ``$batch``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from shared.core.graph_ids import UnsafeIds
from shared.core.jsontext import ensure_storable, fingerprint, first_problem
from shared.core.time import utc_now
from shared.graph.errors import GraphError
from shared.sources.base import Observation, report_unsafe_ids, usable_entries
from shared.sources.school_data_sync.cached import CachedProfile
from shared.sources.school_data_sync.graph import fetch_profile_pages, fetch_profile_statuses
from shared.sources.school_data_sync.models import (
    EducationSynchronizationProfile,
    EducationSynchronizationProfileStatus,
)

if TYPE_CHECKING:
    from shared.graph.client import GraphClient

logger = logging.getLogger(__name__)


async def observe_profiles(graph: GraphClient) -> Observation:
    """Every listed profile with its profileStatus; a profile whose status fails keeps its
    cached value (a failure), a profile whose id may not go into a Graph path is left out
    (a failure too), and a listing that was not complete removes nothing."""
    seen = Observation()
    profiles: list[EducationSynchronizationProfile] = []
    try:
        async for page in fetch_profile_pages(graph):
            seen.listed += len(page)
            usable = usable_entries(page, EducationSynchronizationProfile, seen.failures)
            profiles += [profile for profile, _item in usable]
    except GraphError as error:
        seen.error = error
    unsafe = UnsafeIds()
    profiles = [profile for profile in profiles if unsafe.admits(profile.id)]
    if not seen.error and not seen.failures:
        # Complete: a profile left out for its id is known not to be cacheable.
        listed = {profile.id for profile in profiles}
        seen.removable = lambda item_id: item_id not in listed
    report_unsafe_ids(unsafe, seen, "profiles")
    results = await fetch_profile_statuses(graph, [profile.id for profile in profiles])
    for profile, result in zip(profiles, map(_checked_status, results), strict=True):
        if isinstance(result, GraphError):
            seen.failures[profile.id] = result.code
            logger.warning("profileStatus of %s not updated: %s", profile.id, result)
        else:
            seen.entries[profile.id] = _profile_entry(profile, result)
    return seen


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
