"""Acting from the board: a provisioning job's page offers restart (with the reset scopes
to choose) and, when the job is not running, start, as plain HTML forms that POST to
``/api/board/item/action``, when PROVISIONING_ACTIONS_ENABLED is on. The action is guarded
exactly as the API's (``shared/sources/provisioning_jobs/actions.py``: actions on, only
monitored jobs, the cooldown, ForceDeletes only when allowed, recorded and sent as an event).

Against forged requests: each form carries a token, an HMAC (with a secret the app keeps in
Table Storage, ``storage.app_secrets``) of who the page was shown to, the tenant, the item,
the action and when the token expires (15 minutes). A request whose token does not match, or that a
browser marks as sent from another site (``Sec-Fetch-Site``), is refused. The answer to a
done action is a redirect to the item's page (so a reload does not send it again).

The form names its tenant (``tenantId``, as the page's links do; none: the home tenant):
the action is done on that tenant's job, with its settings (its own
PROVISIONING_ACTIONS_ENABLED and cooldown), its rows and a Graph client with its token
(``http.tenant_scope.TenantServices``), for a viewer who may see it (``board.scope``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast
from urllib.parse import parse_qsl

import azure.functions as func

from shared.core.errors import DomainError, InvalidInputError
from shared.http.board.access import Refusal, Viewer, viewer_of
from shared.http.board.page import ITEM_ROUTE, failure_page, link, refusal_page
from shared.http.board.scope import TENANT_PARAM, BoardTenant, board_tenant
from shared.http.errors import api_error
from shared.http.serving import LazyServices, MakeGraph, Resolve, api_call
from shared.http.tenant_scope import TenantServices
from shared.sources import source_named
from shared.sources.provisioning_jobs.action_models import RESET_SCOPES, restart_body
from shared.sources.provisioning_jobs.actions import act_on_job, check_enabled, job_action
from shared.sources.provisioning_jobs.const import NAME as JOBS
from shared.sources.provisioning_jobs.ids import split_job_key
from shared.storage.keys import validate_key

if TYPE_CHECKING:
    from shared.sources.provisioning_jobs.source import ProvisioningJobs

ACTION_ROUTE = "board/item/action"
SECRET_NAME = "boardFormTokens"  # noqa: S105 (the name of the secret, made at first use)
TOKEN_SECONDS = 15 * 60
_FORM_BYTES = 4096
# What the board offers: restart (reset scopes to choose) and start. Pause stays in the API.
_VERBS = {"restart": "Restart provisioning", "start": "Start provisioning"}
_SCOPES_OFFERED = ("Watermark", "Escrows", "QuarantineState", "Full")
_DONE = {"restart": "Restart sent to Graph", "start": "Start sent to Graph"}
_SAME_SITE = (None, "same-origin", "none")  # "none": typed or bookmarked, not another site


@dataclass(frozen=True)
class ActionForm:
    """One form of the item page: the action, its button, its token, the scopes offered."""

    action: str
    label: str
    token: str
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemForms:
    """The item page's forms, where they post (with the key, as the board's links) and the
    tenantId they carry (None: the page was asked without one, for the home tenant)."""

    post_to: str
    source: str
    item_id: str
    forms: tuple[ActionForm, ...]
    tenant_id: str | None = None


def sign(
    secret: bytes, viewer: Viewer, tenant_id: str, item_id: str, action: str, expires: int
) -> str:
    """A form's token: when it expires, and the HMAC binding it to the viewer, the tenant,
    the item and the action."""
    message = "\n".join((_subject(viewer), tenant_id, item_id, action, str(expires))).encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return f"{expires}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


def _subject(viewer: Viewer) -> str:
    """Who a token is for: the signed-in person, or (key mode) a hash of their key."""
    if viewer.name:
        return "user:" + viewer.name
    return "key:" + hashlib.sha256((viewer.key or "").encode()).hexdigest()


def token_holds(
    secret: bytes, token: str, viewer: Viewer, tenant_id: str, item_id: str, action: str,
    now: float,
) -> bool:  # fmt: skip
    """Whether ``token`` was signed for this viewer, tenant, item and action, and has not
    expired."""
    expires_text, _dot, _digest = token.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12:
        return False
    expires = int(expires_text)
    if not now <= expires <= now + TOKEN_SECONDS:
        return False
    return hmac.compare_digest(token, sign(secret, viewer, tenant_id, item_id, action, expires))


async def item_forms(
    chosen: BoardTenant, viewer: Viewer, source: str, item_id: str, status: str | None
) -> ItemForms | None:
    """The forms a job's page offers (None: not a job, or actions are off for its tenant)."""
    if source != JOBS:
        return None
    own = cast("ProvisioningJobs", source_named(JOBS)).own_settings(chosen.settings)
    if not own.actions_enabled:
        return None
    tenant_id = chosen.tenant.tenantId
    secret = await chosen.store.secrets.secret(SECRET_NAME)
    expires = int(time.time()) + TOKEN_SECONDS
    scopes = _SCOPES_OFFERED + (("ForceDeletes",) if own.allow_force_deletes else ())
    offered = ["restart"] + (["start"] if status != "Active" else [])
    forms = tuple(
        ActionForm(
            action,
            _VERBS[action],
            sign(secret, viewer, tenant_id, item_id, action, expires),
            scopes if action == "restart" else (),
        )
        for action in offered
    )
    return ItemForms(link(ACTION_ROUTE, viewer.key), source, item_id, forms, chosen.keep)


def done_notice(done: str | None) -> str | None:
    """What the item page says after a redirect from a done action (``?done=``)."""
    return _DONE.get(done or "")


@dataclass(frozen=True)
class AskedAction:
    """What a form asks: the job, the action, the reset scopes ticked, the form's token, and
    its tenant (None: the home tenant)."""

    item_id: str
    action: str
    scopes: str
    token: str
    tenant_id: str | None = None


async def action_response(
    req: func.HttpRequest, resolve: Resolve, make_graph: MakeGraph
) -> func.HttpResponse:
    """``POST /api/board/item/action`` (a form): the action done and a 303 to the item's
    page, or a page saying why not (with the API's status for it)."""
    call = api_call(req)
    back = None
    try:
        settings, store = resolve()
        viewer = viewer_of(call, settings)
        if isinstance(viewer, Refusal):
            return refusal_page(viewer)
        if call.header("sec-fetch-site") not in _SAME_SITE:
            refusal = Refusal(403, "Sent from another site", "Act from the board's own pages.")
            return refusal_page(refusal)
        asked = _asked(_form(call.header("content-type"), call.body))
        chosen = await board_tenant(settings, store, viewer, asked.tenant_id)
        if isinstance(chosen, Refusal):
            return refusal_page(chosen)
        jobs = cast("ProvisioningJobs", source_named(JOBS))
        check_enabled(jobs.own_settings(chosen.settings))  # the tenant's, as its route's
        keep = {TENANT_PARAM: chosen.keep}
        back = link(ITEM_ROUTE, viewer.key, **keep, source=JOBS, id=asked.item_id)
        secret = await store.secrets.secret(SECRET_NAME)
        tenant_id = chosen.tenant.tenantId
        if not token_holds(secret, asked.token, viewer, tenant_id, asked.item_id, asked.action,
                           time.time()):  # fmt: skip
            return refusal_page(Refusal(403, "This form has expired",
                                        "Open the item's page again and send it from there."),
                                back=back)  # fmt: skip
        services = TenantServices(settings, store, chosen.tenant, LazyServices(resolve, make_graph))
        await _act(jobs, services, viewer, asked)
    except DomainError as error:
        return _not_done(error, back)
    except Exception as error:
        return failure_page(error)
    location = link(ITEM_ROUTE, viewer.key, **keep, source=JOBS, id=asked.item_id,
                    done=asked.action)  # fmt: skip
    headers = {"Location": location, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return func.HttpResponse(status_code=303, headers=headers)


def _asked(form: dict[str, str]) -> AskedAction:
    action = form.get("action", "")
    if form.get("source") != JOBS or action not in _VERBS:
        raise InvalidInputError("Only a provisioning job can be restarted or started here.")
    item_id = validate_key(form.get("id", ""), name="id")
    return AskedAction(item_id, action, form.get("resetScope", ""), form.get("token", ""),
                       form.get(TENANT_PARAM))  # fmt: skip


async def _act(
    jobs: ProvisioningJobs, services: TenantServices, viewer: Viewer, asked: AskedAction
) -> None:
    """The action, through the same checks and recording as the API's."""
    sp_id, job_id = split_job_key(asked.item_id)
    body, flags = None, []
    if asked.action == "restart" and asked.scopes:
        raw = json.dumps({"criteria": {"resetScope": asked.scopes}}).encode()
        body, flags = restart_body(raw, json.loads(raw))
    request = job_action(
        asked.action, sp_id, job_id, body,
        by=viewer.name or "function key (board)", client_request_id=str(uuid.uuid4()),
    )  # fmt: skip
    await act_on_job(jobs, services, request, flags)


def _form(content_type: str | None, body: bytes) -> dict[str, str]:
    """The form's fields (checkboxes of one name joined by commas, as Graph's resetScope)."""
    if (content_type or "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise InvalidInputError("Send the board's form (application/x-www-form-urlencoded).")
    if len(body) > _FORM_BYTES:
        raise InvalidInputError("The form is larger than the board's forms can be.")
    fields: dict[str, str] = {}
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise InvalidInputError("The form is not the board's form.") from None
    for name, value in pairs:
        if name == "resetScope" and value in RESET_SCOPES:
            fields[name] = ", ".join(filter(None, (fields.get(name), value)))
        elif name != "resetScope":
            fields[name] = value
        else:
            raise InvalidInputError(f"'{value}' is not a reset scope.", target="resetScope")
    return fields


def _not_done(error: DomainError, back: str | None) -> func.HttpResponse:
    """The action not done, with the API's status and words (and its Retry-After)."""
    answer = api_error(error)
    refusal = Refusal(answer.status, "The action was not done", answer.message)
    return refusal_page(refusal, back=back, headers=answer.headers)
