"""A School Data Sync profile as cached, and its entity.

A profileStatus becomes typed columns and comes back value for value: timestamps are kept as
strings (Table Storage's DateTime keeps 6 fractional digits, Graph sends 7), errorCount is
Edm.Int64, nulls and the order of the properties Graph sent are recorded, and properties the
code does not know are kept as JSON. The listing's fields (displayName, state) are one JSON
property, ``profile``, so a poll can update them alone without touching a status someone
PATCHed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shared.core.health import Assessment, assess, began
from shared.sources.base import SINCE_COLUMN, summary_columns
from shared.sources.school_data_sync.const import NAME
from shared.sources.school_data_sync.health import HEALTH_RULES, profile_reason
from shared.sources.school_data_sync.models import PROFILE_STATUS_PROPERTIES
from shared.storage.codec import (
    Entity,
    etag_of,
    get_text,
    int64,
    plain_value,
    put_optional,
    put_text,
)

# Status columns: the Graph property name, or a column name where it would clash.
_STATUS_COLUMNS = {name: name for name in PROFILE_STATUS_PROPERTIES} | {"id": "statusId"}


@dataclass
class CachedProfile:
    """A School Data Sync profile as cached: the listing's fields and its profileStatus."""

    id: str
    display_name: str | None
    state: str | None
    status: dict[str, Any]
    # Fingerprint of the status Graph last sent: a poll rewrites the status only when it changes.
    graph_hash: str = ""
    graph_context: str | None = None
    updated_by: str = "poll"
    updated_date_time: str = ""
    # When the health last changed (and when Graph says it began: never, for a profile),
    # and when a poll last read this profile from Graph.
    health_since: str = ""
    since_date_time: str = ""
    last_checked_date_time: str = ""
    etag: str | None = None

    @property
    def health(self) -> Assessment:
        """(health, reason) of the status as cached (a PATCHed status counts)."""
        return assess_status(self.status)

    @property
    def began(self) -> str | None:
        """None: no rule of a profile's has a time of Graph's (its rows say ``firstSeen``)."""
        return began(HEALTH_RULES, self.status)

    def to_entity(self) -> Entity:
        entity: Entity = {
            "PartitionKey": NAME,
            "RowKey": self.id,
            "graphHash": self.graph_hash,
            "updatedBy": self.updated_by,
            "updatedDateTime": self.updated_date_time,
        }
        put_optional(entity, "graphContext", self.graph_context)
        entity.update(self.profile_columns())
        entity.update(status_to_columns(self.status))
        entity.update(
            summary_columns(
                self.health, self.health_since, self.last_checked_date_time, self.since_date_time
            )
        )
        return entity

    def profile_columns(self) -> dict[str, str]:
        """The listing's fields, as one JSON property: a poll can MERGE them alone, nulls
        included, without touching a status someone PATCHed."""
        fields = {"displayName": self.display_name, "state": self.state}
        return {"profile": json.dumps(fields, ensure_ascii=False, sort_keys=True)}

    def refresh_columns(self, current: Entity) -> tuple[dict[str, Any], Assessment]:
        """A renamed profile has its listing's fields merged; the cached status may carry a
        PATCH, so its health is judged as cached."""
        listing = self.profile_columns()
        columns = listing if current.get("profile") != listing["profile"] else {}
        return columns, assess_status(status_from_columns(current))

    @classmethod
    def from_entity(cls, entity: Entity) -> CachedProfile:
        fields = json.loads(entity.get("profile") or "{}")
        return cls(
            id=entity["RowKey"],
            display_name=fields.get("displayName"),
            state=fields.get("state"),
            status=status_from_columns(entity),
            graph_hash=entity.get("graphHash", ""),
            graph_context=entity.get("graphContext"),
            updated_by=entity.get("updatedBy", "poll"),
            updated_date_time=entity.get("updatedDateTime", ""),
            health_since=entity.get("healthSince", ""),
            since_date_time=entity.get(SINCE_COLUMN, ""),
            last_checked_date_time=entity.get("lastCheckedDateTime", ""),
            etag=etag_of(entity),
        )


def assess_status(status: dict[str, Any]) -> Assessment:
    return assess(HEALTH_RULES, profile_reason, status)


def listed_display_name(entity: Entity) -> str | None:
    """A cached profile's name, read from its listing's fields."""
    return json.loads(entity.get("profile") or "{}").get("displayName")


def status_to_columns(status: dict[str, Any]) -> Entity:
    """A profileStatus JSON object -> entity properties (see the module docstring)."""
    columns: Entity = {"statusProperties": json.dumps(list(status))}
    extra = {name: value for name, value in status.items() if name not in _STATUS_COLUMNS}
    if extra:
        put_text(columns, "statusExtra", json.dumps(extra, ensure_ascii=False))
    for name, column in _STATUS_COLUMNS.items():
        value = status.get(name)
        if value is None:
            continue  # Table Storage has no nulls; statusProperties records that it was sent.
        if name == "errorCount":
            columns[column] = int64(value)
        else:
            put_text(columns, column, value)
    return columns


def status_from_columns(entity: Entity) -> dict[str, Any]:
    """Entity properties -> the profileStatus JSON object, in the order Graph sent it."""
    extra_text = get_text(entity, "statusExtra")
    extra = json.loads(extra_text) if extra_text else {}
    status: dict[str, Any] = {}
    for name in json.loads(entity.get("statusProperties") or "[]"):
        column = _STATUS_COLUMNS.get(name)
        if column is None:
            status[name] = extra.get(name)
        elif name == "errorCount":
            status[name] = plain_value(entity.get(column))
        else:
            status[name] = get_text(entity, column)
    return status
