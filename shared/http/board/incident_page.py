"""An incident's page, ``GET /api/board/incident?id={incidentId}`` (``&tenantId=`` for a
tenant other than the home one; the same access as an item's page): what broke, since when
and why, its state and its timeline; while it is not resolved, forms to acknowledge it (a
note), snooze its reminders (minutes, at most a week) or resolve it (a note). Teams cards
link to it as "the acknowledge page" (``…#acknowledge``: the acknowledge form's id).

The forms POST to ``/api/board/incident/action``, guarded as every board form is (``guard``:
a token bound to the viewer, tenant, incident and action; the site; the tenant), and go
through the API's ``incidents.actions.act_on_incident``, with the viewer as who. A done
action answers 303 to the incident's page and tells the board's pages (``cache.changed``),
so the board shows it at once; an action not done is a page with the API's status (404 no
such incident, 409 resolved already, 400 a note or snooze that cannot be used)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import azure.functions as func

from shared.core.errors import DomainError, InvalidInputError
from shared.core.time import utc_now
from shared.http.board.access import Refusal, Viewer
from shared.http.board.cache import BoardPages
from shared.http.board.guard import (
    SentForm,
    done,
    expired_page,
    form_token,
    not_done,
    sent_form,
)
from shared.http.board.incident_rows import incident_row, maintenance_of
from shared.http.board.page import (
    BOARD_ROUTE,
    INCIDENT_ROUTE,
    ITEM_ROUTE,
    failure_page,
    html_response,
    link,
    refusal_page,
    takes_gzip,
)
from shared.http.board.scope import TENANT_PARAM, BoardTenant, page_viewer
from shared.http.serving import Resolve, api_call
from shared.incidents.actions import MAX_SNOOZE_MINUTES, Act, act_on_incident
from shared.storage.keys import validate_key
from shared.tenants.registry import scope_of

INCIDENT_ACTION_ROUTE = "board/incident/action"
ACKNOWLEDGE_ANCHOR = "acknowledge"  # the acknowledge form's id (Teams cards link to it)
_ACTS: dict[str, Act] = {"acknowledge": "acknowledge", "snooze": "snooze", "resolve": "resolve"}
_DONE = {"acknowledge": "Acknowledged", "snooze": "Snoozed", "resolve": "Resolved"}
_BACK = "Back to the incident"
_NO_SUCH = Refusal(404, "No such incident", "The board has no incident with that id.")
DEFAULT_SNOOZE_MINUTES = 60


@dataclass(frozen=True)
class IncidentForms:
    """The page's forms: where they post (with the key), the incident, the tenantId they
    carry (None: the page was asked without one), and each action's token."""

    post_to: str
    incident_id: str
    tokens: dict[str, str]
    tenant_id: str | None
    snooze_minutes: int = DEFAULT_SNOOZE_MINUTES
    max_minutes: int = MAX_SNOOZE_MINUTES


def token_action(act: str) -> str:
    """What an incident form's token binds as its action (never a job action's name)."""
    return f"incident.{act}"


async def incident_response(req: func.HttpRequest, resolve: Resolve) -> func.HttpResponse:
    """``GET /api/board/incident?tenantId=...&id=...``: the incident's page (never changes
    anything), rendered in a worker thread."""
    call = api_call(req)
    try:
        settings, store = resolve()
        asking = await page_viewer(call, settings, store)
        if isinstance(asking, Refusal):
            return refusal_page(asking)
        viewer, chosen = asking
        incident_id = validate_key(call.query.get("id", ""), name="id")
        found, windows = await asyncio.gather(
            chosen.store.incidents.get(incident_id), chosen.store.maintenance.not_over(utc_now())
        )
        if found is None:
            return refusal_page(_NO_SUCH, back=link(BOARD_ROUTE, viewer.key, tenantId=chosen.keep),
                                back_label="Back to the board")  # fmt: skip
        incident = found[0]
        forms = None
        if incident.state != "resolved":
            forms = await incident_forms(chosen, viewer, incident_id)
    except Exception as error:
        return failure_page(error)
    now = datetime.now(UTC)
    key, keep = viewer.key, {TENANT_PARAM: chosen.keep}
    return await asyncio.to_thread(
        html_response, "incident.html", compress=takes_gzip(call.header("accept-encoding")),
        row=incident_row(incident, now), incident=incident, tenant=chosen.tenant,
        item_link=link(ITEM_ROUTE, key, **keep, source=incident.source, id=incident.itemId),
        maintenance=maintenance_of(windows, incident.source, incident.itemId, now),
        back=link(BOARD_ROUTE, key, **keep), forms=forms, anchor=ACKNOWLEDGE_ANCHOR,
        notice=_DONE.get(call.query.get("done") or ""), viewer=viewer, reload_after=None,
        tenant_name=chosen.name, overview_link=link(BOARD_ROUTE, key) if chosen.name else None,
    )  # fmt: skip


async def incident_forms(chosen: BoardTenant, viewer: Viewer, incident_id: str) -> IncidentForms:
    """The forms of an incident not resolved, each with its token for this viewer."""
    tokens = {
        act: await form_token(chosen, viewer, incident_id, token_action(act)) for act in _ACTS
    }
    return IncidentForms(link(INCIDENT_ACTION_ROUTE, viewer.key), incident_id, tokens, chosen.keep)


async def incident_action_response(
    req: func.HttpRequest, resolve: Resolve, pages: BoardPages
) -> func.HttpResponse:
    """``POST /api/board/incident/action`` (a form): the action done through the API's
    ``act_on_incident`` and a 303 to the incident's page, or a page saying why not."""
    back = None
    try:
        sent = await sent_form(req, resolve)
        if isinstance(sent, Refusal):
            return refusal_page(sent)
        act = _ACTS.get(sent.field("action"))
        if act is None:
            raise InvalidInputError("An incident is acknowledged, snoozed or resolved here.",
                                    target="action")  # fmt: skip
        incident_id = validate_key(sent.field("id"), name="id")
        keep = {TENANT_PARAM: sent.chosen.keep}
        back = link(INCIDENT_ROUTE, sent.viewer.key, **keep, id=incident_id)
        if not await sent.holds(incident_id, token_action(act)):
            return expired_page(back, _BACK, "the incident's page")
        chosen = sent.chosen
        await act_on_incident(chosen.settings, chosen.store, incident_id, act, _body(sent, act),
                              sent.who)  # fmt: skip
        pages.changed(sent.store, scope_of(chosen.tenant))  # on the board at once
    except DomainError as error:
        return not_done(error, back, _BACK)
    except Exception as error:
        return failure_page(error)
    return done(link(INCIDENT_ROUTE, sent.viewer.key, **keep, id=incident_id, done=act))


def _body(sent: SentForm, act: Act) -> dict[str, object]:
    """The API's body of the action: its note (none when left empty) and a snooze's minutes
    (a whole number; act_on_incident checks 1 to a week, 60 when left empty)."""
    note = sent.field("note").strip() or None
    minutes: int | None = None
    raw = sent.field("minutes").strip()
    if act == "snooze" and raw:
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 6:
            raise InvalidInputError(
                f"Snooze for a whole number of minutes, 1 to {MAX_SNOOZE_MINUTES}.",
                target="minutes",
            )
        minutes = int(raw)
    return {"note": note, "minutes": minutes}
