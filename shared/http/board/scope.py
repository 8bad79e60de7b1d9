"""Which tenant a board page is for: ``?tenantId=`` (``home`` or the home tenant's id name
the home tenant; no tenantId: the home tenant, as every link was before there were tenants),
among the tenants the viewer may see (``access.may_see``). A viewer who may see no tenant is
refused (403); an id that is no GUID is a 400; a tenant that does not exist and one the viewer
may not see are the same 404, so the answer never tells that a tenant is there."""

from __future__ import annotations

from dataclasses import dataclass

from shared.core.api import ApiCall
from shared.core.tenancy import HOME_ALIAS
from shared.http.board.access import (
    NO_SUCH_TENANT,
    NO_TENANT,
    Refusal,
    Viewer,
    may_see,
    viewer_of,
)
from shared.settings import Settings
from shared.storage.store import StatusStore
from shared.tenants.choices import tenant_settings
from shared.tenants.models import Tenant, tenant_id_of
from shared.tenants.registry import every_tenant, scope_of

TENANT_PARAM = "tenantId"


@dataclass(frozen=True)
class BoardTenant:
    """The tenant a page is for: its settings (the app's, with its choices) and rows, the
    tenantId the page's links keep (None: the deployment's only tenant, asked without it, and
    the links are as they always were), and whether the deployment has several tenants (then
    the page names the tenant)."""

    tenant: Tenant
    settings: Settings
    store: StatusStore
    keep: str | None
    several: bool

    @property
    def name(self) -> str | None:
        """The tenant's name for the page's title and header (None: the only tenant)."""
        return self.tenant.displayName if self.several else None


def visible(viewer: Viewer, tenants: list[Tenant]) -> list[Tenant]:
    """The tenants the viewer may see, in the registry's order (the home tenant first)."""
    return [tenant for tenant in tenants if may_see(viewer, tenant)]


async def board_tenant(
    settings: Settings, store: StatusStore, viewer: Viewer, raw: str | None,
    tenants: list[Tenant] | None = None,
) -> BoardTenant | Refusal:  # fmt: skip
    """The tenant ``raw`` (a request's tenantId; None: the home tenant) names, if the viewer
    may see it. InvalidInputError for an id that is no GUID."""
    every = tenants if tenants is not None else await every_tenant(settings, store)
    seen = visible(viewer, every)
    if not seen:
        return NO_TENANT
    home = every[0]
    if raw is None or raw.strip().lower() == HOME_ALIAS:
        wanted = home.tenantId
    else:
        wanted = tenant_id_of(raw)
    tenant = next((one for one in seen if one.tenantId == wanted), None)
    if tenant is None:
        return NO_SUCH_TENANT
    several = len(every) > 1  # then links name the tenant, even one asked without its id
    return tenant_of(settings, store, tenant, keep=raw is not None or several, several=several)


def tenant_of(
    settings: Settings, store: StatusStore, tenant: Tenant, *, keep: bool, several: bool
) -> BoardTenant:
    """A tenant's settings and rows for its page (SettingsError: its choices no longer
    read with today's app settings)."""
    return BoardTenant(
        tenant, tenant_settings(settings, tenant), store.for_tenant(scope_of(tenant)),
        tenant.tenantId if keep else None, several,
    )  # fmt: skip


async def page_viewer(
    call: ApiCall, settings: Settings, store: StatusStore
) -> tuple[Viewer, BoardTenant] | Refusal:
    """Who asks for a page of one tenant (``?tenantId=``), and that tenant, or why not."""
    viewer = viewer_of(call, settings)
    if isinstance(viewer, Refusal):
        return viewer
    chosen = await board_tenant(settings, store, viewer, call.query.get(TENANT_PARAM))
    return chosen if isinstance(chosen, Refusal) else (viewer, chosen)
