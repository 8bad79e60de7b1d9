"""The overview of the tenants (``GET /api/board`` when the deployment has several): one row
per tenant the viewer may see, with the worst health of its items, how many need attention
(errors, warnings), its polling (from its poll records: its last poll, or what is wrong), its
consent state (with Entra's or Graph's code), and a bar of its items by health; worst first,
each linking to the tenant's own board (``?tenantId=``).

Worst first: a tenant that cannot be read (its consent needed or unavailable, or its
settings no longer readable) comes first, as nothing of it is watched; then by the worst
health of its items, then by how many need attention, then by name; a tenant switched off
(not polled) comes last.

Each row is cut from the tenant's snapshot (``cache.BoardPages.snapshot``: read once per
version of that tenant's data, the one its own board is cut from), TENANTS_AT_ONCE tenants
asked at a time. The page itself, a row per tenant, is rendered per request in a worker
thread (a few milliseconds for a hundred tenants), with an ETag of its bytes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from shared.core.errors import SettingsError
from shared.http.board.access import Viewer
from shared.http.board.cache import BoardPages
from shared.http.board.incident_rows import IncidentRow, incident_order
from shared.http.board.page import BOARD_ROUTE, INCIDENT_ROUTE, ITEM_ROUTE, link, now_text, render
from shared.http.board.render import polling_words
from shared.http.board.scope import TENANT_PARAM, tenant_of
from shared.http.board.view import HEALTH_ORDER, Snapshot
from shared.settings import Settings
from shared.storage.store import StatusStore
from shared.tenants.models import Tenant
from shared.tenants.registry import HOME_DISPLAY_NAME, scope_of

TENANTS_AT_ONCE = 8
# The incidents listed above the tenants at most (the others are on the tenants' boards).
INCIDENTS_SHOWN = 50
CONSENT_PROBLEMS = ("consentNeeded", "unavailable")
_CONSENT_WORDS = {
    "consented": "consented",
    "consentNeeded": "consent needed",
    "unavailable": "unavailable",
    "unknown": "not polled yet",
}
_RANK = {health: rank for rank, health in enumerate(HEALTH_ORDER)}
_BAR_WIDTH = 160


@dataclass(frozen=True)
class TenantRow:
    """One tenant on the overview."""

    tenant: Tenant
    link: str
    counts: dict[str, int] = field(default_factory=dict)  # its items by health
    polling: tuple[bool, str] = (False, "")
    # Why its data could not be read (its choices no longer read with the app settings).
    problem: str | None = None
    # Seconds after which its board reloads itself (after its next expected poll), and
    # when its snapshot was read.
    reload_after: int | None = None
    read_at: datetime | None = None
    # Its incidents not resolved, in the board's order.
    incidents: tuple[IncidentRow, ...] = ()

    @property
    def acknowledged(self) -> int:
        return sum(1 for incident in self.incidents if incident.state == "acknowledged")

    @property
    def worst(self) -> str | None:
        """The worst health of its items (None: no items)."""
        return next((health for health in HEALTH_ORDER if self.counts.get(health)), None)

    @property
    def needing(self) -> int:
        return self.counts.get("error", 0) + self.counts.get("warning", 0)

    @property
    def unread(self) -> bool:
        """Nothing of it is read: its consent is needed or unavailable, or its settings fail."""
        return self.problem is not None or (
            self.tenant.enabled and self.tenant.consent.state in CONSENT_PROBLEMS
        )

    @property
    def attention(self) -> bool:
        return self.tenant.enabled and (self.unread or self.needing > 0)

    @property
    def consent_words(self) -> str:
        return _CONSENT_WORDS.get(self.tenant.consent.state, self.tenant.consent.state)

    def order(self) -> tuple[Any, ...]:
        """Worst first (see the module's docstring)."""
        worst = -1 if self.unread else _RANK.get(self.worst or "healthy", 2)
        name = self.tenant.displayName.casefold()
        return (not self.tenant.enabled, worst, -self.needing, name, self.tenant.tenantId)


async def overview_rows(
    pages: BoardPages, settings: Settings, store: StatusStore, viewer: Viewer,
    tenants: list[Tenant],
) -> list[TenantRow]:  # fmt: skip
    """A row for each of ``tenants`` (those the viewer may see), worst first."""
    limit = asyncio.Semaphore(TENANTS_AT_ONCE)

    async def row(tenant: Tenant) -> TenantRow:
        to = link(BOARD_ROUTE, viewer.key, **{TENANT_PARAM: tenant.tenantId})
        try:
            own = tenant_of(settings, store, tenant, keep=True, several=True)
        except SettingsError as error:
            return TenantRow(tenant, to, problem=error.message)
        async with limit:
            snapshot = await pages.snapshot(own.settings, store, scope_of(tenant))
        return tenant_row(tenant, to, snapshot)

    rows = await asyncio.gather(*(row(tenant) for tenant in tenants))
    return sorted(rows, key=TenantRow.order)


def tenant_row(tenant: Tenant, to: str, snapshot: Snapshot) -> TenantRow:
    """A tenant's row from its snapshot: its items by health and its polling in words."""
    counts = {health: 0 for health in HEALTH_ORDER}
    for item in snapshot.rows:
        counts[item.health if item.health in counts else "unknown"] += 1
    if tenant.enabled:
        polling = polling_words(snapshot.report, snapshot.now)
    else:
        polling = (False, "Not polled: switched off for this tenant")
    return TenantRow(tenant, to, counts, polling, None, snapshot.reload_after, snapshot.now,
                     tuple(snapshot.incidents))  # fmt: skip


def render_overview(rows: list[TenantRow], viewer: Viewer) -> bytes:
    """``overview.html``: the header's count of tenants and of items needing attention, and
    a row per tenant (called in a worker thread); it reloads itself after the next poll."""
    reload_after = min((row.reload_after for row in rows if row.reload_after), default=None)
    # As of the latest read (the same page, and ETag, while no tenant's data changed).
    read_at = max((row.read_at for row in rows if row.read_at), default=None)
    needing = sum(1 for row in rows if row.attention)
    items = sum(sum(row.counts.values()) for row in rows)
    errors = sum(row.counts.get("error", 0) for row in rows)
    warnings = sum(row.counts.get("warning", 0) for row in rows)
    return render(
        "overview.html", rows=rows, viewer=viewer, needing=needing, total=len(rows),
        items=items, errors=errors, warnings=warnings, now=now_text(read_at or datetime.now(UTC)),
        refresh_link=link(BOARD_ROUTE, viewer.key), reload_after=reload_after,
        bars=[health_bar(row.counts) for row in rows], home_name=HOME_DISPLAY_NAME,
        **every_incident(rows, viewer),
    )  # fmt: skip


def every_incident(rows: list[TenantRow], viewer: Viewer) -> dict[str, Any]:
    """The incidents of every tenant shown, in the board's order (INCIDENTS_SHOWN at most),
    with their tenants' names and links (to the incident's page and the item's)."""
    every = sorted(((incident, row.tenant) for row in rows for incident in row.incidents),
                   key=lambda pair: incident_order(pair[0]))  # fmt: skip
    shown = every[:INCIDENTS_SHOWN]
    links = [
        (link(INCIDENT_ROUTE, viewer.key, **{TENANT_PARAM: tenant.tenantId}, id=incident.id),
         link(ITEM_ROUTE, viewer.key, **{TENANT_PARAM: tenant.tenantId}, source=incident.source,
              id=incident.item_id))
        for incident, tenant in shown
    ]  # fmt: skip
    return {
        "incidents": [incident for incident, _tenant in shown],
        "incident_links": links,
        "incident_tenants": [tenant.displayName for _incident, tenant in shown],
        "incidents_more": len(every) - len(shown),
    }


def health_bar(counts: dict[str, int]) -> Markup:
    """A tenant's items by health as one bar (inline SVG, worst on the left, coloured by
    the stylesheet as the strips are), each part titled with its count; none for no items."""
    total = sum(counts.values())
    if not total:
        return Markup("")
    shown = [(health, counts[health]) for health in HEALTH_ORDER if counts.get(health)]
    label = ", ".join(f"{count} {health}" for health, count in shown)
    parts = [
        f'<svg class="strip bar" width="{_BAR_WIDTH}" height="14" '
        f'viewBox="0 0 {_BAR_WIDTH} 14" role="img" aria-label="{escape(label)}">'
    ]
    left = 0.0
    for health, count in shown:
        width = max(count / total * _BAR_WIDTH, 3)
        parts.append(
            f'<rect class="{escape(health)}" x="{min(left, _BAR_WIDTH - width):.1f}" y="0" '
            f'width="{width:.1f}" height="14"><title>{count} {escape(health)}</title></rect>'
        )
        left += width
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value in it was escaped above
