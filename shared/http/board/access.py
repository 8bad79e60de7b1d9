"""Who may see the board, and which tenants of it. It shows tenant data, so it is never
anonymous: either the host checked a function key (given as ``?code=``, as Azure takes it,
and kept on the board's own links), or, with BOARD_SIGN_IN_ENABLED, App Service
Authentication signed the person in and passed their principal (``X-MS-CLIENT-PRINCIPAL``,
which the platform sets and strips from callers).

Which tenants (``may_see``): a key holder sees every tenant. A signed-in person sees every
tenant with the app role ``SyncStatus.Admin`` or as a member of BOARD_ALLOWED_GROUP_ID (when
it is set); the home tenant when BOARD_ALLOWED_GROUP_ID is not set (as the board was before
there were tenants: anyone signed in); and each tenant one of whose ``groups`` (Entra group
object ids, kept with the tenant) is among the principal's group claims. Nobody else sees a
tenant; a viewer who may see none is refused (403), and a tenant one may not see is answered
as one that does not exist (404)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.core.api import ApiCall
from shared.core.principal import ADMIN_ROLE, PRINCIPAL_HEADER, has_role, principal_claims
from shared.settings import Settings
from shared.tenants.models import Tenant

_GROUP_CLAIMS = ("groups", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups")
_NAME_CLAIMS = (
    "name",
    "preferred_username",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
)


@dataclass(frozen=True)
class Viewer:
    """Who is looking: the key to keep on links (key mode), or the signed-in name; and which
    tenants they may see (``may_see``)."""

    key: str | None = None
    name: str | None = None
    # The principal's group claims (object ids, lower case): the tenants of those groups.
    groups: frozenset[str] = frozenset()
    # Every tenant: a key holder, the admin role, or a member of BOARD_ALLOWED_GROUP_ID.
    every_tenant: bool = True
    # The home tenant: also anyone signed in while BOARD_ALLOWED_GROUP_ID is not set.
    home_tenant: bool = True


@dataclass(frozen=True)
class Refusal:
    """Why the board is not shown: the status, a title and what is needed."""

    status: int
    title: str
    needed: str
    sign_in: bool = False


# A viewer who may see no tenant at all (the board's own words before there were tenants).
NO_TENANT = Refusal(
    403, "Not a member of the board's group",
    "Ask an administrator to add you to the group named in BOARD_ALLOWED_GROUP_ID, or to "
    "one of a tenant's groups.",
)  # fmt: skip
# A tenant that does not exist, or that the viewer may not see: the same page for both.
NO_SUCH_TENANT = Refusal(404, "No such tenant", "The board has no tenant with that id.")


def viewer_of(call: ApiCall, settings: Settings) -> Viewer | Refusal:
    if not settings.board_sign_in:
        # The host let the request in, so it carried a valid key (or none is configured).
        return Viewer(key=call.query.get("code") or None)
    if not settings.platform_sign_in:
        # Without the platform, anyone could send the principal header: refuse to trust it.
        return Refusal(
            503, "Sign-in is not set up",
            "BOARD_SIGN_IN_ENABLED is true but App Service Authentication is off for this app "
            "(WEBSITE_AUTH_ENABLED): turn it on (the Bicep parameter boardSignInClientId), or "
            "set BOARD_SIGN_IN_ENABLED=false to use a function key.",
        )  # fmt: skip
    claims = principal_claims(call.header(PRINCIPAL_HEADER))
    name = next((value for kind, value in (claims or []) if kind in _NAME_CLAIMS), None)
    if claims is not None and (name is None or ("idtyp", "app") in claims):
        # An application's token (no person in it) is not someone looking at the board.
        needed = "Sign in with a user account: application tokens are not accepted."
        return Refusal(403, "The board is for people", needed)
    if claims is None:
        return Refusal(401, "Sign in to see the board",
                       "The board shows your tenant's sync statuses: sign in with your work "
                       "account.", sign_in=True)  # fmt: skip
    groups = frozenset(value.strip().lower() for kind, value in claims if kind in _GROUP_CLAIMS)
    allowed = settings.board_allowed_groups
    every = has_role(claims, ADMIN_ROLE) or bool(allowed and groups & set(allowed))
    return Viewer(name=name, groups=groups, every_tenant=every, home_tenant=every or not allowed)


def may_see(viewer: Viewer, tenant: Tenant) -> bool:
    """Whether the viewer may see this tenant's board (see the module's docstring)."""
    if viewer.every_tenant or (tenant.home and viewer.home_tenant):
        return True
    return not viewer.groups.isdisjoint(group.lower() for group in tenant.groups)
