"""Maintenance windows: a time in which a tenant's items (all, one source's, or one item)
open and resolve incidents without notifying anyone. ``/api/maintenanceWindows`` lists and
adds the home tenant's (``?tenantId=`` another's), ``/api/maintenanceWindows/{id}`` gets or
ends one; a tenant's routes see its own. A job paused through the app is in a window of its
own until it is started again (``storage.maintenance``: ``hold_for_pause``)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from shared.core.api import ApiCall, Reply
from shared.core.errors import InvalidInputError, NotFoundError
from shared.core.incidents import MaintenanceWindow
from shared.core.principal import caller_name
from shared.core.time import Timestamp, graph_timestamp, parse_timestamp, utc_now
from shared.core.validation import parse_model
from shared.sources import SOURCE_NAMES
from shared.sources.base import Operation, Services
from shared.storage.keys import validate_key
from shared.storage.store import StatusStore
from shared.tenants.registry import scope_of, tenant_named

WINDOWS_ROUTE = "maintenanceWindows"
WINDOW_ROUTE = "maintenanceWindows/{id}"
# The longest window one may set (an open-ended one is a paused job's).
MAX_WINDOW = timedelta(days=90)


class MaintenanceWindowRequest(BaseModel):
    """The body of ``POST /api/maintenanceWindows``."""

    model_config = ConfigDict(extra="forbid")

    source: StrictStr | None = Field(default=None, description="Only this source's items.")
    itemId: StrictStr | None = Field(
        default=None, min_length=1, max_length=512, description="Only this item of the source."
    )
    startDateTime: Timestamp | None = Field(default=None, description="From when (now if none).")
    endDateTime: Timestamp = Field(description="Until when (at most 90 days after its start).")
    reason: StrictStr = Field(min_length=1, max_length=500, description="Why.")

    @model_validator(mode="after")
    def _check(self) -> MaintenanceWindowRequest:
        if self.itemId is not None and self.source is None:
            raise ValueError("itemId needs its source")
        if self.source is not None and self.source not in SOURCE_NAMES:
            raise ValueError(f"'{self.source}' is not a source the app knows")
        return self


def maintenance_operations() -> tuple[Operation, ...]:
    return (
        Operation("list_maintenance_windows", WINDOWS_ROUTE, "GET", list_windows),
        Operation("create_maintenance_window", WINDOWS_ROUTE, "POST", create_window),
        Operation("get_maintenance_window", WINDOW_ROUTE, "GET", get_window),
        Operation("delete_maintenance_window", WINDOW_ROUTE, "DELETE", delete_window),
    )


async def list_windows(call: ApiCall, services: Services) -> Reply:
    """``GET /api/maintenanceWindows``: the tenant's windows, newest start first."""
    store = await _store(call, services)
    return Reply({"value": [w.model_dump(mode="json") for w in await store.maintenance.every()]})


async def create_window(call: ApiCall, services: Services) -> Reply:
    """``POST /api/maintenanceWindows``: 201 with the window and its Location."""
    store = await _store(call, services)
    request = parse_model(MaintenanceWindowRequest, call.json_body())
    now = utc_now()
    # In the app's own form, so that windows and the reviews' times compare as text.
    start = graph_timestamp(parse_timestamp(request.startDateTime or now))
    end = graph_timestamp(parse_timestamp(request.endDateTime))
    if end <= start:
        raise InvalidInputError("endDateTime must be after the start.", target="endDateTime")
    if parse_timestamp(end) - parse_timestamp(start) > MAX_WINDOW:
        raise InvalidInputError("A window lasts 90 days at most.", target="endDateTime")
    window = MaintenanceWindow(
        id=str(uuid.uuid4()), tenantId=store.scope.tenant_id, source=request.source,
        itemId=request.itemId, startDateTime=start, endDateTime=end,
        reason=request.reason, createdBy=caller_name(call, services.settings.platform_sign_in),
        createdDateTime=now,
    )  # fmt: skip
    await store.maintenance.add(window)
    scheme, netloc, path, *_rest = urlsplit(call.url)
    location = urlunsplit((scheme, netloc, f"{path.rstrip('/')}/{window.id}", "", ""))
    return Reply(window.model_dump(mode="json"), location=location)


async def get_window(call: ApiCall, services: Services) -> Reply:
    store = await _store(call, services)
    window = await store.maintenance.get(validate_key(call.route.get("id", "")))
    if window is None:
        raise NotFoundError(f"No maintenance window '{call.route.get('id', '')}'.")
    return Reply(window.model_dump(mode="json"))


async def delete_window(call: ApiCall, services: Services) -> Reply:
    """``DELETE /api/maintenanceWindows/{id}``: it ends now (incidents notify again)."""
    store = await _store(call, services)
    if not await store.maintenance.remove(validate_key(call.route.get("id", ""))):
        raise NotFoundError(f"No maintenance window '{call.route.get('id', '')}'.")
    return Reply()


async def _store(call: ApiCall, services: Services) -> StatusStore:
    """The tenant's store: under a tenant's routes, that one; else ``?tenantId=``'s, or the
    home tenant's."""
    if services.tenant_id is not None:
        return services.store
    tenant, _etag = await tenant_named(
        services.settings, services.store, call.query.get("tenantId") or "home"
    )
    return services.store.for_tenant(scope_of(tenant))
