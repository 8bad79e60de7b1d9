"""Who may see the board. It shows tenant data, so it is never anonymous: either the host
checked a function key (given as ``?code=``, as Azure takes it, and kept on the board's own
links), or, with BOARD_SIGN_IN_ENABLED, App Service Authentication signed the person in and
passed their principal (``X-MS-CLIENT-PRINCIPAL``, which the platform sets and strips from
callers) and, when BOARD_ALLOWED_GROUP_ID is set, the principal's group claims include it."""

from __future__ import annotations

from dataclasses import dataclass

from shared.core.api import ApiCall
from shared.core.principal import PRINCIPAL_HEADER, principal_claims
from shared.settings import Settings

_GROUP_CLAIMS = ("groups", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups")
_NAME_CLAIMS = (
    "name",
    "preferred_username",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
)


@dataclass(frozen=True)
class Viewer:
    """Who is looking: the key to keep on links (key mode), or the signed-in name."""

    key: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Refusal:
    """Why the board is not shown: the status, a title and what is needed."""

    status: int
    title: str
    needed: str
    sign_in: bool = False


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
    if settings.board_allowed_groups:
        groups = {value.lower() for kind, value in claims if kind in _GROUP_CLAIMS}
        if not groups & set(settings.board_allowed_groups):
            return Refusal(403, "Not a member of the board's group",
                           "Ask an administrator to add you to the group named in "
                           "BOARD_ALLOWED_GROUP_ID.")  # fmt: skip
    return Viewer(name=name)
