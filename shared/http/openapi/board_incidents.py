"""The paths of the board's incident pages in the OpenAPI document: HTML for people (a
browser with ?code=), hidden from flow makers, described as the board's other pages are
(``paths._board_paths``)."""

from __future__ import annotations

from typing import Any

from shared.core.openapi import RETRY_AFTER, OpenApiPart, operation, param

_HTML = {"produces": ["text/html"]}


def _paths() -> dict[str, Any]:
    answers = {
        400: {"description": "An id that cannot be used (an HTML page says which)."},
        404: {"description": "No such incident, or tenant (an HTML page)."},
        503: {"description": "Storage unavailable or the app not configured (an HTML page).",
              "headers": RETRY_AFTER},
    }  # fmt: skip
    key = param("code", "query", "Function Key", "The function key, as Azure takes it in a URL.",
                visibility="internal")  # fmt: skip
    page = operation(
        "GetBoardIncident", "Show an incident of the status board",
        "An incident's page (HTML): what broke, since when and why, its state and timeline, "
        "and while it is not resolved its forms (acknowledge, snooze, resolve). Teams cards "
        "link to it (#acknowledge: its acknowledge form).",
        {200: {"description": "The incident (HTML)."}, **answers}, (),
        parameters=(
            param("id", "query", "Incident ID", "The incident's id.", required=True),
            param("tenantId", "query", "Tenant",
                  "The tenant's id, or home; none: the home tenant's."),
            key,
        ),
        visibility="internal", **_HTML,
    )  # fmt: skip
    fields = (
        param(name, "formData", name, text, required=name in ("id", "action", "token"))
        for name, text in (
            ("id", "The incident's id."), ("action", "acknowledge, snooze or resolve."),
            ("token", "The token the page gave."), ("note", "Why (500 characters at most)."),
            ("minutes", "For a snooze: how long no reminder goes out (60 when none)."),
            ("tenantId", "The tenant of the incident's page (none: the home tenant)."),
        )
    )  # fmt: skip
    act = operation(
        "PostBoardIncidentAction", "Act on an incident from its board page",
        "The forms of an incident's board page (acknowledge, snooze or resolve), with the "
        "token the page gave; done as the incident actions are, the viewer as who. Answers "
        "303 to the incident's page, or an HTML page saying why not. For people in a "
        "browser: flows use the incident actions.",
        {303: {"description": "Done: back to the incident's page."},
         **answers,
         403: {"description": "A token that does not hold, or another site."},
         409: {"description": "The incident is resolved: nothing to acknowledge or snooze."}},
        (),
        parameters=(*fields, key),
        visibility="internal", consumes=["application/x-www-form-urlencoded"], **_HTML,
    )  # fmt: skip
    return {"/board/incident": {"get": page}, "/board/incident/action": {"post": act}}


BOARD_INCIDENTS_OPENAPI = OpenApiPart(paths=_paths, models=())
