"""The tenant's organization (``GET /organization``, v1.0 and beta), where Graph tells whether
the directory is synchronized from on premises (Entra Connect) and when it last was.

A hybrid tenant's ``onPremisesLastSyncDateTime`` moves every 30 minutes while Connect runs; a
stale one is the sign that its server stopped. When password hashes were last synced
(``onPremisesLastPasswordSyncDateTime``) only beta tells: v1.0's organization has no such
property, so v1.0 answers without it and refuses a ``$select`` of it, as Graph does. The
default tenant is cloud-only (no sync at all: every on-premises property null);
:meth:`OrganizationArea.make_directory_sync_stale` and the demo make it hybrid. A
:class:`ConnectCycle` stops and resumes Connect on a cycle of ticks (the demo's outage that
resolves): :meth:`OrganizationArea.advance_directory_sync` moves it on.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from tools.graph_tenant.common import (
    DEMO_INTERVAL_SECONDS,
    MINUTE_NS,
    GraphAnswer,
    GraphCall,
    Paging,
    Route,
    graph_seconds_timestamp,
    json_copy,
)
from tools.graph_tenant.control import control_error, read_object
from tools.graph_tenant.selection import (
    SDK_MODELS,
    other_versions_only,
    parse_select,
    selected_properties,
)
from tools.graph_tenant.tenants import DEFAULT_TENANT_ID

if TYPE_CHECKING:
    from tools.graph_tenant.server import SimulatedTenant

ORGANIZATION_PATH = re.compile(r"/(?P<version>v1\.0|beta)/organization")
ORGANIZATION_TYPE = "organization"
DEFAULT_STALE_MINUTES = 180.0
# The demo's last sync, before the tenant started: an app that calls a sync older than 120
# minutes stale sees the demo turn stale 3 minutes after it starts.
DEMO_SYNC_MINUTES_AGO = 117
# The demo's Connect outage, in demo ticks (20 s each by default): down 3 hours (the last sync
# stays put: stale past the app's 120 minutes for the last hour), then syncing at every tick
# for 3 hours, and again. The tenant starts 117 minutes (351 ticks) into an outage, so the
# first one resolves about an hour after it starts.
DEMO_CONNECT_DOWN_TICKS = 540
DEMO_CONNECT_UP_TICKS = 540
DEMO_CONNECT_TICKS_DOWN_AT_START = round(DEMO_SYNC_MINUTES_AGO * 60 / DEMO_INTERVAL_SECONDS)

ConnectStep = Literal["down", "stopped", "resumed", "synced"]


@dataclass
class ConnectCycle:
    """Entra Connect going down and coming back on a cycle of ticks: down for ``down_ticks``
    (no sync: the last sync time stays where it was), then up for ``up_ticks`` (a sync at
    each tick), then down again. ``tick`` is where in the cycle it is (down first)."""

    down_ticks: int
    up_ticks: int
    tick: int = 0

    def __post_init__(self) -> None:
        if self.down_ticks < 1 or self.up_ticks < 1:
            raise ValueError("A Connect cycle is down and up at least one tick each.")
        self.tick %= self.down_ticks + self.up_ticks

    @property
    def down(self) -> bool:
        return self.tick < self.down_ticks

    def advance(self) -> ConnectStep:
        """One tick on: what Connect did in it (``stopped``: the first tick of an outage,
        ``resumed``: the first sync after one)."""
        was_down = self.down
        self.tick = (self.tick + 1) % (self.down_ticks + self.up_ticks)
        if self.down:
            return "down" if was_down else "stopped"
        return "resumed" if was_down else "synced"


def default_organization(
    tenant_id: str = DEFAULT_TENANT_ID, display_name: str | None = None
) -> dict[str, Any]:
    """A cloud-only school district, never synchronized from on premises: Contoso's, or (with
    a ``display_name``) one of that name, its domains named after it. Its id is the tenant's."""
    if display_name is not None:
        return named_organization(tenant_id, display_name)
    return {
        "id": tenant_id,
        "deletedDateTime": None,
        "businessPhones": ["+1 425 555 0100"],
        "city": "Redmond",
        "country": None,
        "countryLetterCode": "US",
        "createdDateTime": "2019-08-14T17:25:43Z",
        "defaultUsageLocation": None,
        "displayName": "Contoso School District",
        "marketingNotificationEmails": [],
        "onPremisesLastPasswordSyncDateTime": None,
        "onPremisesLastSyncDateTime": None,
        "onPremisesSyncEnabled": None,
        "postalCode": "98052",
        "preferredLanguage": "en",
        "securityComplianceNotificationMails": [],
        "securityComplianceNotificationPhones": [],
        "state": "WA",
        "street": "1 Microsoft Way",
        "technicalNotificationMails": ["it@contoso.edu"],
        "tenantType": "AAD",
        "verifiedDomains": [
            {
                "capabilities": "Email, OfficeCommunicationsOnline",
                "isDefault": True,
                "isInitial": False,
                "name": "contoso.edu",
                "type": "Managed",
            },
            {
                "capabilities": "Email, OfficeCommunicationsOnline",
                "isDefault": False,
                "isInitial": True,
                "name": "contososchools.onmicrosoft.com",
                "type": "Managed",
            },
        ],
    }


def named_organization(tenant_id: str, display_name: str) -> dict[str, Any]:
    """Contoso's organization renamed: ``display_name``, with domains named after it."""
    organization = default_organization(tenant_id)
    slug = re.sub(r"[^a-z0-9]", "", display_name.lower()) or "tenant"
    organization["displayName"] = display_name
    organization["technicalNotificationMails"] = [f"it@{slug}.onmicrosoft.com"]
    organization["verifiedDomains"] = [
        {
            "capabilities": "Email, OfficeCommunicationsOnline",
            "isDefault": True,
            "isInitial": True,
            "name": f"{slug}.onmicrosoft.com",
            "type": "Managed",
        }
    ]
    return organization


class OrganizationArea:
    """The tenant's one organization, served whole or ``$select``ed."""

    source = "organization"
    prefix = ("/v1.0/organization", "/beta/organization")
    segment = "organization"

    def __init__(self, paging: Paging) -> None:
        self._paging = paging
        self._organization = default_organization()
        self._connect_cycle: ConnectCycle | None = None
        # Each version's properties, read from the SDKs once now rather than mid-answer.
        self._lacks = {
            version: other_versions_only(version, ORGANIZATION_TYPE) for version in SDK_MODELS
        }

    # -- tenant data (delegated to by SimulatedTenant's methods of the same names) -----------

    def set_organization(self, **fields: Any) -> None:
        """Merge top-level properties into the organization (copies; None sets null)."""
        self._organization.update(json_copy(fields))

    @property
    def organization(self) -> dict[str, Any]:
        """A copy of the organization."""
        return json_copy(self._organization)

    def make_directory_sync_stale(self, minutes_ago: float = DEFAULT_STALE_MINUTES) -> None:
        """Make the tenant hybrid, its last sync (and password sync) ``minutes_ago`` minutes
        ago: ``onPremisesSyncEnabled`` true, both times in Graph's format (whole seconds)."""
        last = graph_seconds_timestamp(time.time_ns() - int(minutes_ago * MINUTE_NS))
        self.set_organization(
            onPremisesSyncEnabled=True,
            onPremisesLastSyncDateTime=last,
            onPremisesLastPasswordSyncDateTime=last,
        )

    def set_connect_cycle(self, cycle: ConnectCycle | None) -> None:
        """Let :meth:`advance_directory_sync` stop and resume Connect on ``cycle`` (None: no
        cycle; the sync times stay as they are)."""
        self._connect_cycle = cycle

    @property
    def connect_cycle(self) -> ConnectCycle | None:
        """The Connect cycle the ticks follow, if any (the object itself, not a copy)."""
        return self._connect_cycle

    def advance_directory_sync(self, now_ns: int | None = None) -> ConnectStep | None:
        """One tick of the Connect cycle: while Connect is up, the last sync (and password
        sync) is ``now_ns``; while it is down, they stay. None (and nothing changes) without
        a cycle."""
        if self._connect_cycle is None:
            return None
        step = self._connect_cycle.advance()
        if step in ("resumed", "synced"):
            last = graph_seconds_timestamp(time.time_ns() if now_ns is None else now_ns)
            self.set_organization(
                onPremisesLastSyncDateTime=last, onPremisesLastPasswordSyncDateTime=last
            )
        return step

    # -- Graph -------------------------------------------------------------------------------

    def graph_routes(self) -> list[Route]:
        return [Route("GET", ORGANIZATION_PATH, self._serve_organization)]

    async def _serve_organization(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        """A collection of the one organization, as Graph answers it in the version asked:
        without the properties only another version has, and refusing their ``$select``."""
        version = match["version"]
        try:
            selected = parse_select(call, ORGANIZATION_TYPE)
        except ValueError as exc:
            return call.error(400, "BadRequest", str(exc))
        context = f"{call.base_url}/{version}/$metadata#organization"
        if selected is not None:
            context += f"({','.join(selected)})"
            organization = selected_properties(self._organization, selected)
        else:
            lacks = self._lacks[version]
            organization = {k: v for k, v in self._organization.items() if k not in lacks}
        return call.answer(200, {"@odata.context": context, "value": [organization]})

    # -- control API -------------------------------------------------------------------------

    def control_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_tenant/organization", self._control_get),
            web.patch("/_tenant/organization", self._control_patch),
            web.post("/_tenant/organization/stale", self._control_stale),
        ]

    async def _control_get(self, _request: web.Request) -> web.Response:
        return web.json_response(self.organization)

    async def _control_patch(self, request: web.Request) -> web.Response:
        """Merge the body's top-level properties into the organization; answers it."""
        self.set_organization(**await read_object(request))
        return web.json_response(self.organization)

    async def _control_stale(self, request: web.Request) -> web.Response:
        """{"minutesAgo"?: 180}: the last sync that many minutes ago; answers the organization."""
        body = await read_object(request)
        unknown = sorted(set(body) - {"minutesAgo"})
        if unknown:
            raise control_error(web.HTTPBadRequest, f"Unknown properties: {unknown}.")
        minutes = body.get("minutesAgo", DEFAULT_STALE_MINUTES)
        number = isinstance(minutes, int | float) and not isinstance(minutes, bool)
        if not (number and math.isfinite(minutes) and minutes >= 0):
            raise control_error(web.HTTPBadRequest, "'minutesAgo' must be a number >= 0.")
        self.make_directory_sync_stale(minutes)
        return web.json_response(self.organization)


def populate_demo_organization(tenant: SimulatedTenant, now_ns: int) -> None:
    """Make the demo's organization hybrid, last synchronized :data:`DEMO_SYNC_MINUTES_AGO`
    minutes before ``now_ns``: its Connect server is down, and comes back after
    :data:`DEMO_CONNECT_DOWN_TICKS` ticks of outage in all (the demo's ticks move it on, a
    :class:`ConnectCycle`), to go down again after :data:`DEMO_CONNECT_UP_TICKS`."""
    last = graph_seconds_timestamp(now_ns - DEMO_SYNC_MINUTES_AGO * MINUTE_NS)
    tenant.set_organization(
        onPremisesSyncEnabled=True,
        onPremisesLastSyncDateTime=last,
        onPremisesLastPasswordSyncDateTime=last,
    )
    cycle = ConnectCycle(
        DEMO_CONNECT_DOWN_TICKS, DEMO_CONNECT_UP_TICKS, tick=DEMO_CONNECT_TICKS_DOWN_AT_START
    )
    tenant.set_connect_cycle(cycle)
