"""Acting on a job from the board: a provisioning job's page offers restart (with the reset
scopes to choose) and, when the job is not running, start, as plain HTML forms that POST to
``/api/board/item/action``, when PROVISIONING_ACTIONS_ENABLED is on. The action is guarded
exactly as the API's (``shared/sources/provisioning_jobs/actions.py``: actions on, only
monitored jobs, the cooldown, ForceDeletes only when allowed, recorded and sent as an event),
and the form as every board form is (``guard``: its token, its site, its tenant).

The action is done on the form's tenant's job, with its settings (its own
PROVISIONING_ACTIONS_ENABLED and cooldown), its rows and a Graph client with its token
(``http.tenant_scope.TenantServices``)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import azure.functions as func

from shared.core.errors import DomainError, InvalidInputError
from shared.http.board.access import Refusal, Viewer
from shared.http.board.guard import (
    SentForm,
    done,
    expired_page,
    form_token,
    not_done,
    sent_form,
)
from shared.http.board.page import ITEM_ROUTE, failure_page, link, refusal_page
from shared.http.board.scope import TENANT_PARAM, BoardTenant
from shared.http.serving import LazyServices, MakeGraph, Resolve
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
# What the board offers: restart (reset scopes to choose) and start. Pause stays in the API.
_VERBS = {"restart": "Restart provisioning", "start": "Start provisioning"}
_SCOPES_OFFERED = ("Watermark", "Escrows", "QuarantineState", "Full")
_DONE = {"restart": "Restart sent to Graph", "start": "Start sent to Graph"}
_BACK = "Back to the item"


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


async def item_forms(
    chosen: BoardTenant, viewer: Viewer, source: str, item_id: str, status: str | None
) -> ItemForms | None:
    """The forms a job's page offers (None: not a job, or actions are off for its tenant)."""
    if source != JOBS:
        return None
    own = cast("ProvisioningJobs", source_named(JOBS)).own_settings(chosen.settings)
    if not own.actions_enabled:
        return None
    scopes = _SCOPES_OFFERED + (("ForceDeletes",) if own.allow_force_deletes else ())
    offered = ["restart"] + (["start"] if status != "Active" else [])
    forms = tuple([
        ActionForm(action, _VERBS[action], await form_token(chosen, viewer, item_id, action),
                   scopes if action == "restart" else ())
        for action in offered
    ])  # fmt: skip
    return ItemForms(link(ACTION_ROUTE, viewer.key), source, item_id, forms, chosen.keep)


def done_notice(done: str | None) -> str | None:
    """What the item page says after a redirect from a done action (``?done=``)."""
    return _DONE.get(done or "")


@dataclass(frozen=True)
class AskedAction:
    """What a form asks: the job, the action, and the reset scopes ticked."""

    item_id: str
    action: str
    scopes: str


async def action_response(
    req: func.HttpRequest, resolve: Resolve, make_graph: MakeGraph
) -> func.HttpResponse:
    """``POST /api/board/item/action`` (a form): the action done and a 303 to the item's
    page, or a page saying why not (with the API's status for it)."""
    back = None
    try:
        sent = await sent_form(req, resolve)
        if isinstance(sent, Refusal):
            return refusal_page(sent)
        asked = _asked(sent)
        jobs = cast("ProvisioningJobs", source_named(JOBS))
        check_enabled(jobs.own_settings(sent.chosen.settings))  # the tenant's, as its route's
        keep = {TENANT_PARAM: sent.chosen.keep}
        back = link(ITEM_ROUTE, sent.viewer.key, **keep, source=JOBS, id=asked.item_id)
        if not await sent.holds(asked.item_id, asked.action):
            return expired_page(back, _BACK, "the item's page")
        services = TenantServices(sent.settings, sent.store, sent.chosen.tenant,
                                  LazyServices(resolve, make_graph))  # fmt: skip
        await _act(jobs, services, sent.who, asked)
    except DomainError as error:
        return not_done(error, back, _BACK)
    except Exception as error:
        return failure_page(error)
    return done(link(ITEM_ROUTE, sent.viewer.key, **keep, source=JOBS, id=asked.item_id,
                     done=asked.action))  # fmt: skip


def _asked(sent: SentForm) -> AskedAction:
    action = sent.field("action")
    if sent.field("source") != JOBS or action not in _VERBS:
        raise InvalidInputError("Only a provisioning job can be restarted or started here.")
    item_id = validate_key(sent.field("id"), name="id")
    return AskedAction(item_id, action, _scopes(sent.pairs))


def _scopes(pairs: tuple[tuple[str, str], ...]) -> str:
    """The reset scopes ticked, joined by commas (as Graph's resetScope)."""
    ticked = [value for name, value in pairs if name == "resetScope"]
    for value in ticked:
        if value not in RESET_SCOPES:
            raise InvalidInputError(f"'{value}' is not a reset scope.", target="resetScope")
    return ", ".join(ticked)


async def _act(
    jobs: ProvisioningJobs, services: TenantServices, who: str, asked: AskedAction
) -> None:
    """The action, through the same checks and recording as the API's."""
    sp_id, job_id = split_job_key(asked.item_id)
    body, flags = None, []
    if asked.action == "restart" and asked.scopes:
        raw = json.dumps({"criteria": {"resetScope": asked.scopes}}).encode()
        body, flags = restart_body(raw, json.loads(raw))
    request = job_action(
        asked.action, sp_id, job_id, body, by=who, client_request_id=str(uuid.uuid4()),
    )  # fmt: skip
    await act_on_job(jobs, services, request, flags)
