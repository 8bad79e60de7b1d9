"""How the incidents' routes are described in the OpenAPI document (and so in the Power
Automate connector): list incidents, get one, and acknowledge, snooze or resolve it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shared.core.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    RequestTooLargeError,
    StorageUnavailableError,
)
from shared.core.incidents import Incident, IncidentEvent, MaintenanceWindow
from shared.core.openapi import (
    OpenApiPart,
    operation,
    param,
    path_param,
    ref,
    trigger_operation,
)
from shared.core.subscriptions import IncidentSubscriptionRequest
from shared.incidents.actions import IncidentActionRequest
from shared.incidents.maintenance import MaintenanceWindowRequest
from shared.incidents.routes import STATES


class IncidentList(BaseModel):
    """Incidents, newest first."""

    value: list[Incident] = Field(description="The incidents, newest first (at most 999).")


class MaintenanceWindowList(BaseModel):
    """A tenant's maintenance windows."""

    value: list[MaintenanceWindow] = Field(description="The windows, newest start first.")


_ACTS = {
    "acknowledge": ("AcknowledgeIncident", "Acknowledge an incident",
                    "Says someone is on it: no more reminders; it still resolves (and says so) "
                    "when its item recovers."),
    "snooze": ("SnoozeIncident", "Snooze an incident",
               "No reminders for the minutes given (60 when none are)."),
    "resolve": ("ResolveIncident", "Resolve an incident",
                "Resolves it by hand (its resolved notice goes out as when its item recovers); "
                "the same problem does not open it again, a new one opens another."),
}  # fmt: skip


def _incident_id() -> dict[str, Any]:
    return path_param("id", "Incident ID", "The incident's ID.")


def _paths() -> dict[str, Any]:
    one = {200: {"description": "The incident.", "schema": ref("Incident")}}
    paths: dict[str, Any] = {
        "/incidents": {
            "get": operation(
                "ListIncidents", "List incidents",
                "Lists incidents, newest first: every tenant's, or one tenant's.",
                {200: {"description": "The incidents.", "schema": ref("IncidentList")}},
                (InvalidInputError, NotFoundError, StorageUnavailableError),
                parameters=(
                    param("tenantId", "query", "Tenant", "Only this tenant's (its id, or home)."),
                    param("state", "query", "State", "Only this state.", enum=list(STATES)),
                    param("source", "query", "Source", "Only this source's items."),
                    param("health", "query", "Health", "Only of this worst health."),
                ),
            )
        },
        "/incidents/{id}": {
            "get": operation(
                "GetIncident", "Get an incident", "Gets an incident with its timeline.", one,
                (InvalidInputError, NotFoundError, StorageUnavailableError),
                parameters=(_incident_id(),),
            )
        },
    }  # fmt: skip
    body = {
        "name": "body", "in": "body", "required": False, "description": "Who and why.",
        "x-ms-summary": "Note", "x-ms-visibility": "important",
        "schema": ref("IncidentActionRequest"),
    }  # fmt: skip
    for act, (operation_id, summary, description) in _ACTS.items():
        paths[f"/incidents/{{id}}/{act}"] = {
            "post": operation(
                operation_id, summary, description, one,
                (InvalidInputError, NotFoundError, ConflictError, RequestTooLargeError,
                 StorageUnavailableError),
                parameters=(_incident_id(), body),
            )
        }  # fmt: skip
    return paths | _trigger_path() | _maintenance_paths()


def _trigger_path() -> dict[str, Any]:
    """The connector's trigger for incidents: a notice per run of the flow, as JSON."""
    return {
        "/incidentSubscriptions": {
            "x-ms-notification-content": {
                "description": "An incident's notice: opened, reminder or resolved.",
                "schema": ref("IncidentEvent"),
            },
            "post": trigger_operation(
                "CreateIncidentSubscription", "When an incident opens or resolves",
                "Triggers when an incident opens (its item's problem held long enough), is "
                "reminded of while nobody acknowledged it, or resolves; each notice once, "
                "none while snoozed or in maintenance.",
                "IncidentSubscriptionRequest",
                "To see it work now, break a profile's sync, then wait for the next poll.",
                (InvalidInputError, RequestTooLargeError, StorageUnavailableError),
            ),
        }
    }  # fmt: skip


def _maintenance_paths() -> dict[str, Any]:
    window_id = path_param("id", "Window ID", "The maintenance window's ID.")
    tenant = param("tenantId", "query", "Tenant", "This tenant's (its id, or home: the default).")
    one = {200: {"description": "The window.", "schema": ref("MaintenanceWindow")}}
    location = {"type": "string", "description": "The window's URL.", "x-ms-summary": "Location"}
    body = {
        "name": "body", "in": "body", "required": True, "description": "What, when and why.",
        "x-ms-summary": "Window", "x-ms-visibility": "important",
        "schema": ref("MaintenanceWindowRequest"),
    }  # fmt: skip
    errors = (InvalidInputError, NotFoundError, StorageUnavailableError)
    return {
        "/maintenanceWindows": {
            "get": operation(
                "ListMaintenanceWindows", "List maintenance windows",
                "Lists a tenant's maintenance windows: while one is under way, the incidents of "
                "what it covers notify nobody.",
                {200: {"description": "The windows.", "schema": ref("MaintenanceWindowList")}},
                errors, parameters=(tenant,),
            ),
            "post": operation(
                "CreateMaintenanceWindow", "Add a maintenance window",
                "Adds a window for a tenant's every item, one source's or one item's.",
                {201: {"description": "Added; the Location is its URL.",
                       "schema": ref("MaintenanceWindow"), "headers": {"Location": location}}},
                (*errors, RequestTooLargeError, ConflictError), parameters=(tenant, body),
            ),
        },
        "/maintenanceWindows/{id}": {
            "get": operation(
                "GetMaintenanceWindow", "Get a maintenance window", "Gets a maintenance window.",
                one, errors, parameters=(window_id, tenant),
            ),
            "delete": operation(
                "DeleteMaintenanceWindow", "End a maintenance window",
                "Ends (deletes) a maintenance window: incidents notify again.",
                {204: {"description": "Ended."}}, errors, parameters=(window_id, tenant),
            ),
        },
    }  # fmt: skip


INCIDENTS_OPENAPI = OpenApiPart(
    paths=_paths,
    models=(
        IncidentList,
        Incident,
        IncidentEvent,
        IncidentSubscriptionRequest,
        IncidentActionRequest,
        MaintenanceWindowList,
        MaintenanceWindow,
        MaintenanceWindowRequest,
    ),
    summaries={"itemId": "Item ID", "currentHealth": "Health Now", "sinceDateTime": "Since"},
    important=frozenset({"state", "health", "reason", "itemId"}),
    definition_texts={
        "Incident": "A problem with one item, from when it opened to when it resolved.",
        "IncidentEntry": "One step of an incident's life.",
        "IncidentActionRequest": "Who and why (and, for a snooze, how long).",
        "IncidentEvent": "The event POSTed for an incident's notice.",
        "IncidentSubscriptionRequest": "Where to POST each incident's notice, and which.",
        "IncidentFilter": "Which incidents' notices; each list left out matches all.",
        "MaintenanceWindow": "A time in which no incident of what it covers notifies.",
        "MaintenanceWindowRequest": "A maintenance window to add.",
    },
)
