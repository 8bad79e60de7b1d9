"""The incidents' routes, under ``/api``: ``incidents`` (every tenant's, newest first, or one
tenant's with ``?tenantId=``; ``state``, ``source`` and ``health`` narrow it),
``incidents/{id}``, and ``incidents/{id}/acknowledge|snooze|resolve``. Under a tenant's
routes (``/api/tenants/{tenantId}/incidents...``) they see that tenant's alone."""

from __future__ import annotations

from typing import Any

from shared.core.api import ApiCall, Reply
from shared.core.errors import InvalidInputError, NotFoundError
from shared.core.health import Health
from shared.core.incidents import Incident
from shared.core.principal import caller_name
from shared.incidents.actions import Act, act_on_incident
from shared.sources import SOURCES
from shared.sources.base import Operation, Services
from shared.storage.keys import validate_key
from shared.storage.store import StatusStore
from shared.tenants.registry import every_tenant, scope_of, tenant_named

INCIDENTS_ROUTE = "incidents"
INCIDENT_ROUTE = "incidents/{id}"
STATES = ("open", "acknowledged", "resolved")
# The most a listing answers (newest first): incidents are few; a filter narrows them.
MAX_LISTED = 999


def incident_operations() -> tuple[Operation, ...]:
    return (
        Operation("list_incidents", INCIDENTS_ROUTE, "GET", list_incidents),
        Operation("get_incident", INCIDENT_ROUTE, "GET", get_incident),
        *(
            Operation(f"{act}_incident", f"{INCIDENT_ROUTE}/{act}", "POST", _acting(act))
            for act in ("acknowledge", "snooze", "resolve")
        ),
    )


async def list_incidents(call: ApiCall, services: Services) -> Reply:
    """``GET /api/incidents``: newest first, at most 999."""
    filters = _filters(call)
    found: list[Incident] = []
    for store in await _stores(call, services):
        found += await store.incidents.listing(**filters)
    found.sort(key=lambda incident: incident.openedDateTime, reverse=True)
    return Reply({"value": [incident.model_dump(mode="json") for incident in found[:MAX_LISTED]]})


async def get_incident(call: ApiCall, services: Services) -> Reply:
    store, incident_id = await _owner(call, services)
    found = await store.incidents.get(incident_id)
    if found is None:
        raise NotFoundError(f"No incident '{incident_id}'.")
    return Reply(found[0].model_dump(mode="json"), etag=found[1])


def _acting(act: Act) -> Any:
    async def acting(call: ApiCall, services: Services) -> Reply:
        store, incident_id = await _owner(call, services)
        who = caller_name(call, services.settings.platform_sign_in)
        body = call.json_body() if call.body else None
        incident = await act_on_incident(services.settings, store, incident_id, act, body, who)
        return Reply(incident.model_dump(mode="json"))

    acting.__name__ = f"{act}_incident"
    acting.__doc__ = f"``POST /api/incidents/{{id}}/{act}``: who and why go in its timeline."
    return acting


def _filters(call: ApiCall) -> dict[str, str | None]:
    state, source, health = (call.query.get(name) for name in ("state", "source", "health"))
    if state is not None and state not in STATES:
        raise InvalidInputError(f"state must be one of {', '.join(STATES)}.", target="state")
    if source is not None and source not in {known.name for known in SOURCES}:
        raise InvalidInputError(f"'{source}' is not a source the app knows.", target="source")
    if health is not None and health not in {str(one) for one in Health}:
        raise InvalidInputError(f"'{health}' is not a health.", target="health")
    return {"state": state, "source": source, "health": health}


async def _stores(call: ApiCall, services: Services) -> list[StatusStore]:
    """The stores of the tenants a listing covers: under a tenant's routes, that tenant;
    else the one ``?tenantId=`` names, or every tenant."""
    if services.tenant_id is not None:
        return [services.store]
    settings, store = services.settings, services.store
    given = call.query.get("tenantId")
    tenants = (
        [(await tenant_named(settings, store, given))[0]] if given is not None
        else await every_tenant(settings, store)
    )  # fmt: skip
    return [store.for_tenant(scope_of(tenant)) for tenant in tenants]


async def _owner(call: ApiCall, services: Services) -> tuple[StatusStore, str]:
    """The store of the tenant whose incident the route names, and its id."""
    incident_id = validate_key(call.route.get("id", ""))
    if services.tenant_id is not None:
        return services.store, incident_id
    settings, store = services.settings, services.store
    tenant_id = await store.incidents.tenant_of(incident_id)
    if tenant_id is None:
        raise NotFoundError(f"No incident '{incident_id}'.")
    tenant, _etag = await tenant_named(settings, store, tenant_id)
    return store.for_tenant(scope_of(tenant)), incident_id
