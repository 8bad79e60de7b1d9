"""School Data Sync (classic): education synchronization profiles and their ``profileStatus``
(beta), with the tenant's profiles, their Graph and control endpoints, and generated and demo
schools."""

from __future__ import annotations

import copy
import logging
import random
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import CIMultiDict

from tools.graph_tenant.common import (
    ID_NAMESPACE,
    GraphAnswer,
    GraphCall,
    Paging,
    Route,
    graph_timestamp,
    page,
    random_offset_ns,
)
from tools.graph_tenant.control import control_error, read_object

if TYPE_CHECKING:
    from tools.graph_tenant.server import SimulatedTenant

logger = logging.getLogger(__name__)

PROFILES_PATH = "/beta/education/synchronizationProfiles"

# Members of educationSynchronizationStatus that Graph only sends to clients that opted in;
# everyone else sees ``unknownFutureValue`` in their place.
EVOLVABLE_STATUS_MEMBERS = frozenset({"extracting", "validating"})
INCLUDE_UNKNOWN_ENUM_MEMBERS = "include-unknown-enum-members"


def default_status(profile_id: str) -> dict[str, Any]:
    """A freshly synchronized profile, shaped like the example on Graph's reference page."""
    now = graph_timestamp(time.time_ns())
    return {
        "id": profile_id,
        "status": "success",
        "lastSynchronizationDateTime": now,
        "lastActivityDateTime": now,
        "errorCount": 0,
        "statusMessage": "Processed 0 in the last hour.\r\nUpdated 0 in the last hour.",
    }


def profile_resource(profile_id: str, display_name: str, state: str) -> dict[str, Any]:
    """An educationSynchronizationProfile with the properties a CSV profile has in Graph."""
    return {
        "id": profile_id,
        "displayName": display_name,
        "state": state,
        "dataProvider": {
            "@odata.type": "#microsoft.graph.educationCsvDataProvider",
            "customizations": None,
        },
        "expirationDate": "2027-06-30",
        "handleSpecialCharacterConstraint": False,
    }


def prefers_unknown_enum_members(headers: CIMultiDict[str]) -> bool:
    """Whether any ``Prefer`` header lists ``include-unknown-enum-members`` (any case)."""
    for value in headers.getall("Prefer", []):
        for preference in value.split(","):
            if preference.split(";", 1)[0].strip().lower() == INCLUDE_UNKNOWN_ENUM_MEMBERS:
                return True
    return False


class EducationArea:
    """The tenant's SDS profiles: id -> {"profile": ..., "status": ...}, in insertion order."""

    source = "education"
    prefix = "/beta/education/"
    segment = "synchronizationProfiles"

    def __init__(self, paging: Paging) -> None:
        self._paging = paging
        self._profiles: dict[str, dict[str, dict[str, Any]]] = {}

    # -- tenant data (delegated to by SimulatedTenant's methods of the same names) -----------

    def add_profile(
        self,
        id: str,  # Graph's name for it, so that callers may pass id=...
        display_name: str = "",
        state: str = "provisioned",
        status: dict[str, Any] | None = None,
    ) -> None:
        """Add or replace a profile; ``status`` is kept verbatim (a realistic success if None)."""
        self._profiles[id] = {
            "profile": profile_resource(id, display_name or id, state),
            "status": copy.deepcopy(status) if status is not None else default_status(id),
        }

    def set_status(self, profile_id: str, /, **changes: Any) -> None:
        """Merge ``changes`` into a profile's status, as the sync engine would update it."""
        self._profiles[profile_id]["status"].update(copy.deepcopy(changes))

    def get_profile(self, profile_id: str) -> dict[str, dict[str, Any]]:
        """A copy of one entry, {"profile": ..., "status": ...} (KeyError for an unknown id)."""
        return copy.deepcopy(self._profiles[profile_id])

    def remove_profile(self, profile_id: str) -> None:
        del self._profiles[profile_id]

    @property
    def profiles(self) -> dict[str, dict[str, dict[str, Any]]]:
        """A snapshot: id -> {"profile": ..., "status": ...}, in insertion order."""
        return copy.deepcopy(self._profiles)

    # -- Graph -------------------------------------------------------------------------------

    def graph_routes(self) -> list[Route]:
        profile_path = rf"{PROFILES_PATH}/(?P<id>[^/]+)"
        return [
            Route("GET", re.compile(PROFILES_PATH), self._serve_profile_list),
            Route("GET", re.compile(profile_path), self._serve_profile),
            Route("GET", re.compile(rf"{profile_path}/profileStatus"), self._serve_profile_status),
        ]

    async def _serve_profile_list(self, call: GraphCall, _match: re.Match[str]) -> GraphAnswer:
        context = f"{call.base_url}/beta/$metadata#education/synchronizationProfiles"
        ids = list(self._profiles)
        return page(
            call,
            ids,
            lambda profile_id: self._profiles[profile_id]["profile"],
            context,
            self._paging,
        )

    async def _serve_profile(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        entry = self._profiles.get(match["id"])
        if entry is None:
            return self._profile_not_found(call, match["id"])
        context = f"{call.base_url}/beta/$metadata#education/synchronizationProfiles/$entity"
        return call.answer(200, {"@odata.context": context, **entry["profile"]})

    async def _serve_profile_status(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        profile_id = match["id"]
        entry = self._profiles.get(profile_id)
        if entry is None:
            return self._profile_not_found(call, profile_id)
        status = dict(entry["status"])
        hidden = status.get("status") in EVOLVABLE_STATUS_MEMBERS
        if hidden and not prefers_unknown_enum_members(call.headers):
            status["status"] = "unknownFutureValue"
        context = (
            f"{call.base_url}/beta/$metadata#education/synchronizationProfiles"
            f"('{profile_id}')/profileStatus/$entity"
        )
        return call.answer(200, {"@odata.context": context, **status})

    @staticmethod
    def _profile_not_found(call: GraphCall, profile_id: str) -> GraphAnswer:
        message = f"The synchronization profile '{profile_id}' was not found."
        return call.error(404, "ResourceNotFound", message)

    # -- control API -------------------------------------------------------------------------

    def control_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_tenant/profiles", self._control_profile_list),
            web.post("/_tenant/profiles", self._control_post_profile),
            web.patch("/_tenant/profiles/{id}/profileStatus", self._control_patch_status),
            web.delete("/_tenant/profiles/{id}", self._control_delete_profile),
        ]

    async def _control_profile_list(self, _request: web.Request) -> web.Response:
        return web.json_response({"value": list(self.profiles.values())})

    async def _control_post_profile(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        profile_id = body.get("id")
        display_name = body.get("displayName", "")
        state = body.get("state", "provisioned")
        status = body.get("status")
        if not (isinstance(profile_id, str) and profile_id):
            raise control_error(web.HTTPBadRequest, "'id' must be a non-empty string.")
        if not (isinstance(display_name, str) and isinstance(state, str)):
            raise control_error(web.HTTPBadRequest, "'displayName' and 'state' must be strings.")
        if status is not None and not isinstance(status, dict):
            raise control_error(web.HTTPBadRequest, "'status' must be a JSON object.")
        self.add_profile(profile_id, display_name, state, status)
        return web.json_response(self.get_profile(profile_id), status=201)

    async def _control_patch_status(self, request: web.Request) -> web.Response:
        profile_id = request.match_info["id"]
        changes = await read_object(request)
        try:
            self.set_status(profile_id, **changes)
        except KeyError:
            raise self._unknown_profile(profile_id) from None
        return web.json_response(self.get_profile(profile_id)["status"])

    async def _control_delete_profile(self, request: web.Request) -> web.Response:
        profile_id = request.match_info["id"]
        try:
            self.remove_profile(profile_id)
        except KeyError:
            raise self._unknown_profile(profile_id) from None
        return web.Response(status=204)

    @staticmethod
    def _unknown_profile(profile_id: str) -> web.HTTPException:
        return control_error(web.HTTPNotFound, f"No profile with id {profile_id!r}.")


# -- generated and demo schools --------------------------------------------------------------

STATUS_MESSAGES = {
    "success": "Processed {processed} in the last hour.\r\nUpdated {updated} in the last hour.",
    "inProgress": "Processed {processed} in the last hour.\r\nUpdated {updated} in the last hour.",
    "extracting": "Extracting data from the source.\r\nRead {processed} records so far.",
    "validating": "Validating {processed} records.\r\n{errors} errors found so far.",
    "error": (
        "Sync stopped: {errors} records failed validation.\r\n"
        "Download the error report from the profile's errors."
    ),
    "validationError": (
        "The source files failed validation.\r\nSchool.csv: the column 'SIS ID' is missing."
    ),
    "quarantined": (
        "Profile quarantined: the sync would remove more than 50% of users.\r\n"
        "Review the source data, then resume the profile."
    ),
    "paused": "Paused by an administrator.\r\nResume the profile to continue syncing.",
}

# Statuses of ``--profiles`` tenants, weighted roughly like a district's morning.
GENERATED_STATUSES = (
    ("success", 60),
    ("inProgress", 12),
    ("extracting", 4),
    ("validating", 4),
    ("error", 10),
    ("validationError", 3),
    ("quarantined", 3),
    ("paused", 4),
)
FAILED_STATUSES = frozenset({"error", "validationError", "quarantined"})

# Display names in SDS often carry typographic dashes: they keep clients honest about non-ASCII.
DASH = "\N{EN DASH}"
DEMO_SCHOOLS = (
    (f"Contoso High School {DASH} SIS roster", "success", 0),
    (f"Fabrikam Middle School {DASH} SIS roster", "inProgress", 0),
    (f"Northwind Elementary {DASH} PowerSchool export", "extracting", 0),
    (f"Tailspin Toys Academy {DASH} Skyward sync", "validating", 0),
    (f"Woodgrove Primary {DASH} CSV upload", "error", 17),
    (f"Alpine Ski School {DASH} OneRoster API", "quarantined", 412),
    (f"Litware Charter School {DASH} CSV upload", "paused", 0),
    (f"Adventure Works Prep {DASH} SIS roster", "success", 2),
)
# Chance that a demo profile changes on a tick, and that a running sync fails.
DEMO_CHANGE_ODDS = 0.5
DEMO_FAILURE_ODDS = 0.08
# Profiles in these statuses keep syncing on schedule; the others wait for an administrator.
CYCLING_STATUSES = frozenset({"success", "inProgress", "extracting", "validating"})
EVOLVING_STATUSES = CYCLING_STATUSES | {"error"}


def status_message(status: str, rng: random.Random, errors: int) -> str:
    """A statusMessage like SDS writes them: two lines separated by CRLF."""
    processed = rng.randrange(0, 5000)
    template = STATUS_MESSAGES.get(status, STATUS_MESSAGES["success"])
    return template.format(
        processed=processed, updated=rng.randrange(0, processed + 1), errors=errors
    )


def make_status(
    profile_id: str, status: str, rng: random.Random, now_ns: int, errors: int = 0
) -> dict[str, Any]:
    """A realistic profileStatus: only a success moves lastSynchronizationDateTime forward."""
    last_activity = now_ns - random_offset_ns(rng, 1, 600)
    last_sync = (
        last_activity if status == "success" else now_ns - random_offset_ns(rng, 3600, 259200)
    )
    return {
        "id": profile_id,
        "status": status,
        "lastSynchronizationDateTime": graph_timestamp(last_sync),
        "lastActivityDateTime": graph_timestamp(last_activity),
        "errorCount": errors,
        "statusMessage": status_message(status, rng, errors),
    }


def populate_profiles(tenant: SimulatedTenant, count: int, seed: int) -> list[str]:
    """Add ``count`` profiles whose ids and statuses depend only on ``seed`` and the index."""
    rng = random.Random(seed)
    now = time.time_ns()
    names, weights = zip(*GENERATED_STATUSES, strict=True)
    ids = []
    for index in range(count):
        profile_id = str(uuid.uuid5(ID_NAMESPACE, f"{seed}/{index}"))
        status = rng.choices(names, weights)[0]
        errors = rng.randrange(1, 200) if status in FAILED_STATUSES else 0
        tenant.add_profile(
            profile_id,
            f"School {index + 1:04d} {DASH} SIS roster",
            status=make_status(profile_id, status, rng, now, errors),
        )
        ids.append(profile_id)
    return ids


def populate_demo_schools(tenant: SimulatedTenant, rng: random.Random, now_ns: int) -> list[str]:
    """Add :data:`DEMO_SCHOOLS`, one profile in each interesting state; returns their ids."""
    ids = []
    for name, status, errors in DEMO_SCHOOLS:
        profile_id = str(uuid.uuid5(ID_NAMESPACE, f"demo/{name}"))
        tenant.add_profile(
            profile_id, name, status=make_status(profile_id, status, rng, now_ns, errors)
        )
        ids.append(profile_id)
    return ids


def next_demo_status(current: str, roll: float) -> str:
    """Where a demo profile goes on a tick: round the sync cycle, with the odd failure.

    Paused, quarantined and unknown statuses stay put: they wait for an administrator.
    """
    if current in CYCLING_STATUSES and roll < DEMO_FAILURE_ODDS:
        return "error"
    match current:
        case "extracting":
            return "validating"
        case "validating":
            return "inProgress"
        case "inProgress":
            return "success" if roll < 0.7 else "inProgress"
        case "success":
            return "inProgress" if roll < 0.4 else "success"
        case "error":
            return "inProgress" if roll < 0.5 else "error"
        case _:
            return current


def evolve_status(status: Mapping[str, Any], rng: random.Random, now_ns: int) -> dict[str, Any]:
    """The changes one demo tick makes to a status ({} when the profile stays put)."""
    current = status.get("status")
    if current not in EVOLVING_STATUSES:
        return {}
    following = next_demo_status(current, rng.random())
    errors = status.get("errorCount")
    errors = errors if isinstance(errors, int) else 0
    if following == "error":
        errors += rng.randrange(1, 25)
    elif current == "error":
        errors = rng.randrange(0, errors + 1)
    now = graph_timestamp(now_ns)
    changes: dict[str, Any] = {
        "status": following,
        "lastActivityDateTime": now,
        "errorCount": errors,
        "statusMessage": status_message(following, rng, errors),
    }
    if following == "success":
        changes["lastSynchronizationDateTime"] = now
    return changes


def advance_demo_profiles(
    tenant: SimulatedTenant, ids: Sequence[str], rng: random.Random, now_ns: int
) -> None:
    """Move some of the demo profiles along their sync cycle (about half on each tick)."""
    for profile_id in ids:
        if rng.random() >= DEMO_CHANGE_ODDS:
            continue
        try:
            status = tenant.get_profile(profile_id)["status"]
        except KeyError:
            continue  # removed through the control API
        changes = evolve_status(status, rng, now_ns)
        if changes:
            tenant.set_status(profile_id, **changes)
            logger.info(
                "Demo: profile %s %s -> %s (errorCount %s)",
                profile_id,
                status.get("status"),
                changes["status"],
                changes["errorCount"],
            )
