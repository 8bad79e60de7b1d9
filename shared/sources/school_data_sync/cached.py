"""A School Data Sync profile as cached.

Its profileStatus is kept as typed fields (``STATUS_FIELDS``: one column per property, so
the API can filter on the status) and comes back value for value, nulls and order included;
the listing's fields (displayName, state) are one document, ``profile``, so a poll can update
them alone without touching a status someone PATCHed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.core.health import Assessment, assess, began
from shared.sources.school_data_sync.const import NAME
from shared.sources.school_data_sync.health import HEALTH_RULES, profile_reason
from shared.sources.school_data_sync.models import PROFILE_STATUS_PROPERTIES
from shared.storage.items import FieldLayout, ItemRecord, ItemUpdate, StoredItem

STATUS_FIELDS = FieldLayout("status", PROFILE_STATUS_PROPERTIES, int64=frozenset({"errorCount"}))
PROFILE_PART = "profile"
UPDATED_BY_PART, UPDATED_AT_PART = "updatedBy", "updatedDateTime"


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

    def record(self) -> ItemRecord:
        return ItemRecord(
            source=NAME,
            id=self.id,
            graph_hash=self.graph_hash,
            health=self.health,
            health_since=self.health_since,
            since_date_time=self.since_date_time,
            last_checked_date_time=self.last_checked_date_time,
            graph_context=self.graph_context,
            texts={UPDATED_BY_PART: self.updated_by, UPDATED_AT_PART: self.updated_date_time},
            documents={PROFILE_PART: self.listing()},
            fields=(STATUS_FIELDS, self.status),
        )

    def listing(self) -> dict[str, str | None]:
        """The listing's fields, kept together: a poll can merge them alone, nulls
        included, without touching a status someone PATCHed."""
        return {"displayName": self.display_name, "state": self.state}

    def refresh(self, current: StoredItem) -> tuple[ItemUpdate, Assessment]:
        """A renamed profile has its listing's fields merged; the cached status may carry a
        PATCH, so its health is judged as cached."""
        update = ItemUpdate()
        if current.document(PROFILE_PART) != self.listing():
            update.documents[PROFILE_PART] = self.listing()
        return update, assess_status(current.fields(STATUS_FIELDS))

    @classmethod
    def from_stored(cls, item: StoredItem) -> CachedProfile:
        fields = item.document(PROFILE_PART) or {}
        return cls(
            id=item.id,
            display_name=fields.get("displayName"),
            state=fields.get("state"),
            status=item.fields(STATUS_FIELDS),
            graph_hash=item.graph_hash,
            graph_context=item.graph_context,
            updated_by=item.text(UPDATED_BY_PART) or "poll",
            updated_date_time=item.text(UPDATED_AT_PART) or "",
            health_since=item.health_since or "",
            since_date_time=item.since_date_time,
            last_checked_date_time=item.last_checked_date_time or "",
            etag=item.etag,
        )


def assess_status(status: dict[str, Any]) -> Assessment:
    return assess(HEALTH_RULES, profile_reason, status)


def listed_display_name(item: StoredItem) -> str | None:
    """A cached profile's name, read from its listing's fields."""
    return (item.document(PROFILE_PART) or {}).get("displayName")
