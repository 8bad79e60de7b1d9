"""The board's forms, guarded: the one way a board page's form (a job's action, an incident's)
is made safe to POST, read and answered.

Against forged requests: each form carries a token, an HMAC (with a secret the app keeps in
Table Storage, ``storage.app_secrets``) of who the page was shown to, the tenant, what the
form acts on (a job's key, an incident's id), the action and when the token expires (15
minutes). A request whose token does not match, or that a browser marks as sent from
another site (``Sec-Fetch-Site``), is refused. A done action is answered with a redirect to
the page it was sent from (so a reload does not send it again); one not done with a page
saying why, with the API's status for it (and its Retry-After).

The form names its tenant (``tenantId``, as the page's links do; none: the home tenant),
for a viewer who may see it (``board.scope``); the token binds it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

import azure.functions as func

from shared.core.api import ApiCall
from shared.core.errors import DomainError, InvalidInputError
from shared.core.principal import caller_name
from shared.http.board.access import Refusal, Viewer, viewer_of
from shared.http.board.page import refusal_page
from shared.http.board.scope import TENANT_PARAM, BoardTenant, board_tenant
from shared.http.errors import api_error
from shared.http.serving import Resolve, api_call
from shared.settings import Settings
from shared.storage.store import StatusStore

SECRET_NAME = "boardFormTokens"  # noqa: S105 (the name of the secret, made at first use)
TOKEN_SECONDS = 15 * 60
# A form's body at most: its fields and a note of 500 characters, percent-encoded UTF-8.
FORM_BYTES = 8192
_FORM_TYPE = "application/x-www-form-urlencoded"
_SAME_SITE = (None, "same-origin", "none")  # "none": typed or bookmarked, not another site
# Who ``caller_name`` says asked when no one is signed in (the key's holder).
_KEY_CALLER = "function key"
CROSS_SITE = Refusal(403, "Sent from another site", "Act from the board's own pages.")


def sign(
    secret: bytes, viewer: Viewer, tenant_id: str, subject: str, action: str, expires: int
) -> str:
    """A form's token: when it expires, and the HMAC binding it to the viewer, the tenant,
    what it acts on and the action."""
    message = "\n".join((_subject(viewer), tenant_id, subject, action, str(expires))).encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return f"{expires}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


def _subject(viewer: Viewer) -> str:
    """Who a token is for: the signed-in person, or (key mode) a hash of their key."""
    if viewer.name:
        return "user:" + viewer.name
    return "key:" + hashlib.sha256((viewer.key or "").encode()).hexdigest()


def token_holds(
    secret: bytes, token: str, viewer: Viewer, tenant_id: str, subject: str, action: str,
    now: float,
) -> bool:  # fmt: skip
    """Whether ``token`` was signed for this viewer, tenant, subject and action, and has not
    expired."""
    expires_text, _dot, _digest = token.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12:
        return False
    expires = int(expires_text)
    if not now <= expires <= now + TOKEN_SECONDS:
        return False
    return hmac.compare_digest(token, sign(secret, viewer, tenant_id, subject, action, expires))


async def form_token(chosen: BoardTenant, viewer: Viewer, subject: str, action: str) -> str:
    """The token of a form the page shown to ``viewer`` offers, for ``action`` on ``subject``
    of the page's tenant."""
    secret = await chosen.store.secrets.secret(SECRET_NAME)
    expires = int(time.time()) + TOKEN_SECONDS
    return sign(secret, viewer, chosen.tenant.tenantId, subject, action, expires)


@dataclass(frozen=True)
class SentForm:
    """A board form as POSTed by a viewer from the board's own pages: its fields (in the
    order sent) and the tenant it names, that the viewer may see."""

    call: ApiCall
    settings: Settings
    store: StatusStore  # the deployment's (``chosen.store``: the tenant's rows)
    viewer: Viewer
    chosen: BoardTenant
    pairs: tuple[tuple[str, str], ...]

    def field(self, name: str) -> str:
        """The field's value (the last one sent; "" when none)."""
        return next((value for key, value in reversed(self.pairs) if key == name), "")

    async def holds(self, subject: str, action: str) -> bool:
        """Whether the form's token was signed for this viewer, tenant, subject and action."""
        secret = await self.store.secrets.secret(SECRET_NAME)
        return token_holds(secret, self.field("token"), self.viewer,
                           self.chosen.tenant.tenantId, subject, action, time.time())  # fmt: skip

    @property
    def who(self) -> str:
        """Who acts, as the API names them (``principal.caller_name``: the signed-in person
        the platform names), else the board's signed-in viewer, else the key's holder."""
        named = caller_name(self.call, self.settings.platform_sign_in)
        if named != _KEY_CALLER:
            return named
        return self.viewer.name or f"{_KEY_CALLER} (board)"


async def sent_form(req: func.HttpRequest, resolve: Resolve) -> SentForm | Refusal:
    """The form of ``req``, or why it is refused (not signed in, sent from another site, a
    tenant the viewer may not see). InvalidInputError: not a board form."""
    call = api_call(req)
    settings, store = resolve()
    viewer = viewer_of(call, settings)
    if isinstance(viewer, Refusal):
        return viewer
    if call.header("sec-fetch-site") not in _SAME_SITE:
        return CROSS_SITE
    pairs = form_pairs(call.header("content-type"), call.body)
    tenant_id = next((value for key, value in reversed(pairs) if key == TENANT_PARAM), None)
    chosen = await board_tenant(settings, store, viewer, tenant_id)
    if isinstance(chosen, Refusal):
        return chosen
    return SentForm(call, settings, store, viewer, chosen, tuple(pairs))


def form_pairs(content_type: str | None, body: bytes) -> list[tuple[str, str]]:
    """The form's fields as sent (InvalidInputError: not a form the board makes)."""
    if (content_type or "").split(";")[0].strip().lower() != _FORM_TYPE:
        raise InvalidInputError(f"Send the board's form ({_FORM_TYPE}).")
    if len(body) > FORM_BYTES:
        raise InvalidInputError("The form is larger than the board's forms can be.")
    try:
        return parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise InvalidInputError("The form is not the board's form.") from None


def expired_page(back: str, back_label: str, page: str) -> func.HttpResponse:
    """A token that does not hold (expired, or for another viewer, tenant, subject or
    action): refused, with a way back to ``page`` to send it from."""
    refusal = Refusal(403, "This form has expired", f"Open {page} again and send it from there.")
    return refusal_page(refusal, back=back, back_label=back_label)


def not_done(error: DomainError, back: str | None, back_label: str) -> func.HttpResponse:
    """The action not done, with the API's status and words (and its Retry-After)."""
    answer = api_error(error)
    refusal = Refusal(answer.status, "The action was not done", answer.message)
    return refusal_page(refusal, back=back, back_label=back_label, headers=answer.headers)


def done(location: str) -> func.HttpResponse:
    """A done action: 303 to the page it was sent from (a reload does not send it again)."""
    headers = {"Location": location, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return func.HttpResponse(status_code=303, headers=headers)
