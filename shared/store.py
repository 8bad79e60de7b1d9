"""The status cache in Azure Table Storage: every table read and write of the app is here.

Tables (created on first use, named with STATUS_TABLE_PREFIX):
- ``{prefix}Statuses``: one entity per monitored item; PartitionKey is the source
  (``educationSynchronizationProfiles``, ``synchronizationJobs``, ``industryDataRuns``),
  RowKey the item's id (a job's is ``{servicePrincipalId}:{jobId}``).
- ``{prefix}PollRuns``: one entity per source, the last poll run, for /api/health.
- ``{prefix}History``: every change of an item's status or health; PartitionKey the source,
  RowKey the item's (escaped) id and an inverted time, so an item's history reads newest first.
- ``{prefix}Outbox``: change events not yet delivered; PartitionKey the delivery target (a
  subscription, or a NOTIFY_WEBHOOK_URLS entry), RowKey the time and event id (oldest first).
- ``{prefix}Subscriptions``: the webhook subscriptions made through the API.

Every item carries the same summary columns, which /api/statuses filters and serves:
``displayName``, ``status`` (raw), ``health``, ``healthSince``, ``reason``,
``lastCheckedDateTime`` and ``pollError`` (set while the poll cannot read the item).

A profileStatus becomes typed columns and comes back value for value: timestamps are kept as
strings (Table Storage's DateTime keeps 6 fractional digits, Graph sends 7), errorCount is
Edm.Int64 (the SDK would send a plain int as Int32), nulls and the order of the properties
Graph sent are recorded, and properties the code does not know are kept as JSON. The
listing's fields (displayName, state) are one JSON property, ``profile``, so a poll can
update them alone without touching a status someone PATCHed.

Jobs and runs are kept whole as the JSON text Graph sent (order, nulls, Int64 and 7-digit
timestamps survive as they are), split over numbered properties past 64 KiB and compressed
past 512 KiB, so an entity stays under Table Storage's 1 MiB; never cut.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import weakref
import zlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Literal

from azure.core import MatchConditions
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import EdmType, EntityProperty, TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.core.changes import ChangeEvent, StatusChange
from shared.core.errors import (
    InvalidKeyError,
    NotFoundError,
    SettingsError,
    StorageUnavailableError,
    VersionConflictError,
)
from shared.core.health import Health
from shared.core.subscriptions import Subscription, SubscriptionFilter
from shared.core.time import timestamp_ns
from shared.health import assess
from shared.models import JOB_KEY_SEPARATOR, PROFILE_STATUS_PROPERTIES
from shared.settings import PROVISIONING_JOBS, SDS_PROFILES, Settings, get_settings

logger = logging.getLogger(__name__)

PROFILES_SOURCE = SDS_PROFILES

# A key is at most 1 KiB (512 UTF-16 code units) and may not hold these characters.
_MAX_KEY_LENGTH = 512
# Lone surrogates (U+D800-U+DFFF) are not characters at all: they cannot be encoded.
_FORBIDDEN_KEY_CHARACTERS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f\ud800-\udfff]")

# A string property holds at most 64 KiB of UTF-16; longer text is split over numbered
# properties (statusMessage, statusMessage_2, ...), never cut.
_MAX_PROPERTY_UTF16_UNITS = 32 * 1024
# JSON documents past this many UTF-16 units are compressed; past _MAX_DOCUMENT_BYTES
# compressed, an item cannot be cached (reported as itemTooLarge, never cut).
_COMPRESS_ABOVE_UTF16_UNITS = 256 * 1024
_MAX_BINARY_PROPERTY_BYTES = 64 * 1024
_MAX_DOCUMENT_BYTES = 768 * 1024
# A batch transaction holds at most 100 operations and 4 MiB.
_MAX_BATCH_OPERATIONS = 100
_MAX_BATCH_BYTES = 3 * 1024 * 1024
# Transactions sent at once: building and parsing their multipart bodies overlaps with the
# service's work; a partition takes up to 2,000 entities/s, so more would not help in Azure.
_TRANSACTIONS_AT_ONCE = 4

# Status columns: the Graph property name, or a column name where it would clash.
_STATUS_COLUMNS = {name: name for name in PROFILE_STATUS_PROPERTIES} | {"id": "statusId"}


def validate_key(value: str, *, name: str = "id") -> str:
    """Check that an id can be a PartitionKey or RowKey, so bad input is a 400, not a storage
    error (Azurite even answers 500 for some of these characters)."""
    if not value:
        raise InvalidKeyError(f"The {name} must not be empty.", target=name)
    match = _FORBIDDEN_KEY_CHARACTERS.search(value)
    if match:
        raise InvalidKeyError(
            f"The {name} contains a character that is not allowed "
            f"({match.group()!r}): / \\ # ? and control characters cannot be used.",
            target=name,
        )
    if len(value.encode("utf-16-le")) > 2 * _MAX_KEY_LENGTH:
        raise InvalidKeyError(
            f"The {name} is longer than {_MAX_KEY_LENGTH} characters.", target=name
        )
    return value


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
    # When the health last changed, and when a poll last read this profile from Graph.
    health_since: str = ""
    last_checked_date_time: str = ""
    etag: str | None = None

    @property
    def health(self) -> tuple[Health, str]:
        """(health, reason) of the status as cached (a PATCHed status counts)."""
        return assess(SDS_PROFILES, self.status)

    def to_entity(self) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "PartitionKey": PROFILES_SOURCE,
            "RowKey": self.id,
            "graphHash": self.graph_hash,
            "updatedBy": self.updated_by,
            "updatedDateTime": self.updated_date_time,
        }
        _put_optional(entity, "graphContext", self.graph_context)
        entity.update(self.profile_columns())
        entity.update(status_to_columns(self.status))
        entity.update(summary_columns(self.health, self.health_since, self.last_checked_date_time))
        return entity

    def profile_columns(self) -> dict[str, str]:
        """The listing's fields, as one JSON property: a poll can MERGE them alone, nulls
        included, without touching a status someone PATCHed."""
        fields = {"displayName": self.display_name, "state": self.state}
        return {"profile": json.dumps(fields, ensure_ascii=False, sort_keys=True)}

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> CachedProfile:
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
            last_checked_date_time=entity.get("lastCheckedDateTime", ""),
            etag=_etag(entity),
        )


@dataclass
class CachedItem:
    """A provisioning job or an Industry Data run as cached: Graph's JSON, kept whole.

    ``statistics`` is a finished run's getStatistics answer (fetched once: it does not
    change). Nothing but a poll writes these items.
    """

    source: str
    id: str
    resource: dict[str, Any]
    graph_hash: str = ""
    graph_context: str | None = None
    statistics: dict[str, Any] | None = None
    health_since: str = ""
    last_checked_date_time: str = ""
    etag: str | None = None

    @property
    def health(self) -> tuple[Health, str]:
        return assess(self.source, self.resource, self.statistics)

    @property
    def display_name(self) -> str | None:
        if self.source == PROVISIONING_JOBS:
            # A job has no name of its own; its template names the target system.
            return self.resource.get("templateId") or self.resource.get("id")
        return self.resource.get("displayName")

    @property
    def raw_status(self) -> str | None:
        if self.source == PROVISIONING_JOBS:
            status = self.resource.get("status")
            return status.get("code") if isinstance(status, dict) else None
        return self.resource.get("status")

    def to_entity(self) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "PartitionKey": self.source,
            "RowKey": self.id,
            "graphHash": self.graph_hash,
        }
        _put_optional(entity, "graphContext", self.graph_context)
        _put_optional(entity, "displayName", self.display_name)
        _put_optional(entity, "status", self.raw_status)
        put_document(entity, "resource", self.resource)
        if self.statistics is not None:
            put_document(entity, "statistics", self.statistics)
        entity.update(summary_columns(self.health, self.health_since, self.last_checked_date_time))
        return entity

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> CachedItem:
        return cls(
            source=entity["PartitionKey"],
            id=entity["RowKey"],
            resource=get_document(entity, "resource") or {},
            graph_hash=entity.get("graphHash", ""),
            graph_context=entity.get("graphContext"),
            statistics=get_document(entity, "statistics"),
            health_since=entity.get("healthSince", ""),
            last_checked_date_time=entity.get("lastCheckedDateTime", ""),
            etag=_etag(entity),
        )


def job_key(service_principal_id: str, job_id: str) -> str:
    """The RowKey (and /api/statuses id) of a provisioning job."""
    return f"{service_principal_id}{JOB_KEY_SEPARATOR}{job_id}"


def summary_columns(
    assessment: tuple[Health, str], health_since: str, last_checked: str
) -> dict[str, str]:
    """The columns every item has for /api/statuses (``pollError`` is cleared: whoever
    writes a whole item has just read it)."""
    health, reason = assessment
    columns = {"health": str(health), "reason": reason, "pollError": ""}
    _put_optional(columns, "healthSince", health_since or None)
    _put_optional(columns, "lastCheckedDateTime", last_checked or None)
    return columns


@dataclass
class StatusRow:
    """One row of /api/statuses, read from any source's entity."""

    source: str
    id: str
    display_name: str | None
    status: str | None
    health: str
    health_since: str | None
    reason: str | None
    last_checked_date_time: str | None
    poll_error: str | None

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> StatusRow:
        source = entity["PartitionKey"]
        if source == SDS_PROFILES:
            display_name = json.loads(entity.get("profile") or "{}").get("displayName")
            status = get_text(entity, "status")
        else:
            display_name = entity.get("displayName")
            status = entity.get("status")
        return cls(
            source=source,
            id=entity["RowKey"],
            display_name=display_name,
            status=status,
            health=entity.get("health") or str(Health.UNKNOWN),
            health_since=entity.get("healthSince"),
            reason=entity.get("reason"),
            last_checked_date_time=entity.get("lastCheckedDateTime"),
            poll_error=entity.get("pollError") or None,
        )


def put_document(entity: dict[str, Any], name: str, document: Any) -> None:
    """Store a JSON document as text in ``name`` (split past 64 KiB), or compressed in
    ``{name}Z`` binary properties when it is too large to keep as text."""
    text = json.dumps(document, ensure_ascii=False)
    if len(text) <= _COMPRESS_ABOVE_UTF16_UNITS:  # characters <= UTF-16 units <= 2x chars
        _put_text(entity, name, text)
        return
    packed = zlib.compress(text.encode(), 6)
    if len(packed) > _MAX_DOCUMENT_BYTES:
        raise ValueError(f"{name} is {len(packed)} bytes even compressed; an entity holds 1 MiB")
    chunks = [
        packed[start : start + _MAX_BINARY_PROPERTY_BYTES]
        for start in range(0, len(packed), _MAX_BINARY_PROPERTY_BYTES)
    ]
    entity[f"{name}Z"] = EntityProperty(chunks[0], EdmType.BINARY)
    for number, chunk in enumerate(chunks[1:], start=2):
        entity[f"{name}Z_{number}"] = EntityProperty(chunk, EdmType.BINARY)


def get_document(entity: dict[str, Any], name: str) -> Any:
    """The JSON document ``put_document`` stored (None when there is none)."""
    text = get_text(entity, name)
    if text is not None:
        return json.loads(text)
    if f"{name}Z" not in entity:
        return None
    parts = []
    number = 1
    while (part := entity.get(f"{name}Z" if number == 1 else f"{name}Z_{number}")) is not None:
        parts.append(part.value if isinstance(part, EntityProperty) else part)
        number += 1
    return json.loads(zlib.decompress(b"".join(_as_bytes(part) for part in parts)))


def _as_bytes(value: Any) -> bytes:
    # The SDK hands binary properties back as bytes; base64 text only from other writers.
    return value if isinstance(value, bytes) else base64.b64decode(value)


def _etag(entity: dict[str, Any]) -> str | None:
    return entity.metadata.get("etag") if hasattr(entity, "metadata") else None


def status_to_columns(status: dict[str, Any]) -> dict[str, Any]:
    """A profileStatus JSON object -> entity properties (see the module docstring)."""
    columns: dict[str, Any] = {"statusProperties": json.dumps(list(status))}
    extra = {name: value for name, value in status.items() if name not in _STATUS_COLUMNS}
    if extra:
        _put_text(columns, "statusExtra", json.dumps(extra, ensure_ascii=False))
    for name, column in _STATUS_COLUMNS.items():
        value = status.get(name)
        if value is None:
            continue  # Table Storage has no nulls; statusProperties records that it was sent.
        if name == "errorCount":
            columns[column] = EntityProperty(value, EdmType.INT64)
        else:
            _put_text(columns, column, value)
    return columns


def status_from_columns(entity: dict[str, Any]) -> dict[str, Any]:
    """Entity properties -> the profileStatus JSON object, in the order Graph sent it."""
    extra_text = get_text(entity, "statusExtra")
    extra = json.loads(extra_text) if extra_text else {}
    status: dict[str, Any] = {}
    for name in json.loads(entity.get("statusProperties") or "[]"):
        column = _STATUS_COLUMNS.get(name)
        if column is None:
            status[name] = extra.get(name)
        elif name == "errorCount":
            value = entity.get(column)
            status[name] = value.value if isinstance(value, EntityProperty) else value
        else:
            status[name] = get_text(entity, column)
    return status


def _put_optional(entity: dict[str, Any], name: str, value: str | None) -> None:
    if value is not None:
        _put_text(entity, name, value)


def _put_text(entity: dict[str, Any], name: str, value: str) -> None:
    """Store text in ``name``, continuing in ``name_2``, ``name_3``... when it is too long."""
    chunks: list[str] = []
    start = units = 0
    for index, character in enumerate(value):
        width = 2 if ord(character) > 0xFFFF else 1
        if units + width > _MAX_PROPERTY_UTF16_UNITS:
            chunks.append(value[start:index])
            start, units = index, 0
        units += width
    chunks.append(value[start:])
    entity[name] = chunks[0]
    for number, chunk in enumerate(chunks[1:], start=2):
        entity[f"{name}_{number}"] = chunk


def get_text(entity: dict[str, Any], name: str) -> str | None:
    """Text ``_put_text`` stored in ``name`` (and its continuations), None when absent."""
    first = entity.get(name)
    if first is None:
        return None
    parts = [first]
    number = 2
    while f"{name}_{number}" in entity:
        parts.append(entity[f"{name}_{number}"])
        number += 1
    return "".join(parts)


@dataclass
class PollRun:
    """The last poll of one source, as /api/health reports it."""

    source: str
    outcome: str  # succeeded | partial | failed | unavailable
    started_date_time: str
    finished_date_time: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    # Per-item failures grouped by error code: [{"code": ..., "count": ...}].
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Graph refused or failed the whole source: {"status", "code", "message"}.
    source_error: dict[str, Any] | None = None
    # Start of the latest poll that listed the whole source (this one or an earlier one):
    # every item it listed and did not fail on was read from Graph then.
    listed_date_time: str | None = None

    def to_entity(self) -> dict[str, Any]:
        entity = {
            "PartitionKey": "pollRun",
            "RowKey": self.source,
            "outcome": self.outcome,
            "startedDateTime": self.started_date_time,
            "counts": json.dumps(self.counts),
            "errors": json.dumps(self.errors),
        }
        _put_optional(entity, "finishedDateTime", self.finished_date_time)
        _put_optional(entity, "listedDateTime", self.listed_date_time)
        if self.source_error is not None:
            _put_text(entity, "sourceError", json.dumps(self.source_error, ensure_ascii=False))
        return entity

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> PollRun:
        source_error = get_text(entity, "sourceError")
        return cls(
            source=entity["RowKey"],
            outcome=entity["outcome"],
            started_date_time=entity["startedDateTime"],
            finished_date_time=entity.get("finishedDateTime"),
            counts=json.loads(entity.get("counts") or "{}"),
            errors=json.loads(entity.get("errors") or "[]"),
            source_error=json.loads(source_error) if source_error else None,
            listed_date_time=entity.get("listedDateTime"),
        )


# (kind, entity, options) as TableClient.submit_transaction takes them.
_Operation = tuple[str, dict[str, Any], dict[str, Any]]


@dataclass(frozen=True)
class Change:
    """One write a poll makes to the cache.

    ``create`` a new item; ``replace`` it when Graph's status changed; ``merge`` only the
    listing's fields (the status is unchanged and may carry a PATCH); ``delete`` an item a
    complete listing no longer has. ``etag`` is the version the poll read (None to create).
    """

    kind: Literal["create", "replace", "merge", "delete"]
    entity: dict[str, Any]
    etag: str | None = None

    def operation(self) -> _Operation:
        if self.kind == "create":
            return ("create", self.entity, {})
        if self.etag is None:
            raise ValueError(f"a {self.kind} needs the ETag the poll read")
        condition = {"etag": self.etag, "match_condition": MatchConditions.IfNotModified}
        if self.kind == "delete":
            keys = {"PartitionKey": self.entity["PartitionKey"], "RowKey": self.entity["RowKey"]}
            return ("delete", keys, condition)
        mode = UpdateMode.REPLACE if self.kind == "replace" else UpdateMode.MERGE
        return ("update", self.entity, {**condition, "mode": mode})


@dataclass
class WriteOutcome:
    """What a batch of cache writes did; ``failed`` maps item ids to an error code."""

    written: int = 0
    removed: int = 0
    failed: dict[str, str] = field(default_factory=dict)


class StatusStore:
    """Reads and writes the status cache; outages (no answer, 5xx, throttling, no access)
    become StorageUnavailableError."""

    def __init__(self, service: TableServiceClient, table_prefix: str) -> None:
        self._service = service
        self._statuses: TableClient = service.get_table_client(f"{table_prefix}Statuses")
        self._poll_runs: TableClient = service.get_table_client(f"{table_prefix}PollRuns")
        self._history: TableClient = service.get_table_client(f"{table_prefix}History")
        self._outbox: TableClient = service.get_table_client(f"{table_prefix}Outbox")
        self._subscriptions: TableClient = service.get_table_client(f"{table_prefix}Subscriptions")
        self._tables_ready = False
        self._tables_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> StatusStore:
        storage = settings.storage
        # Fail fast instead of the SDK's long default back-off: callers answer 503 + Retry-After.
        options: dict[str, Any] = {"retry_total": 2, "connection_timeout": 5, "read_timeout": 20}
        if storage.connection_string:
            try:
                service = TableServiceClient.from_connection_string(
                    storage.connection_string, **options
                )
            except ValueError:
                # Not echoed: a connection string may carry an account key.
                raise SettingsError(
                    "AzureWebJobsStorage is not a storage connection string (expected "
                    "UseDevelopmentStorage=true or AccountName=...;TableEndpoint=... parts)."
                ) from None
        elif storage.table_service_uri:
            service = TableServiceClient(
                storage.table_service_uri, credential=_storage_credential(settings), **options
            )
        else:
            raise SettingsError("AzureWebJobsStorage names no table endpoint.")
        return cls(service, settings.table_prefix)

    async def close(self) -> None:
        await self._service.close()

    # -- profiles ---------------------------------------------------------------------------

    async def get_profile(self, profile_id: str) -> CachedProfile | None:
        async with self._storage_call():
            try:
                entity = await self._statuses.get_entity(PROFILES_SOURCE, profile_id)
            except ResourceNotFoundError:
                return None
        return CachedProfile.from_entity(entity)

    async def list_profiles(
        self, *, statuses: list[str] | None, top: int, continuation: dict[str, str] | None
    ) -> tuple[list[CachedProfile], dict[str, str] | None]:
        """One page of cached profiles in id order, optionally only those with these statuses.

        Table Storage may answer a filtered query with fewer rows than asked (even none) and a
        continuation, so this asks again until the page is full or the partition is done.
        """
        query, parameters = "PartitionKey eq @source", {"source": PROFILES_SOURCE}
        if statuses:
            query += " and " + _any_of("status", "s", statuses, parameters)
        entities, continuation = await self._query_page(query, parameters, top, continuation)
        return [CachedProfile.from_entity(entity) for entity in entities], continuation

    # -- every source -----------------------------------------------------------------------

    async def list_status_rows(
        self,
        *,
        sources: list[str],
        healths: list[str] | None,
        top: int,
        continuation: dict[str, str] | None,
    ) -> tuple[list[StatusRow], dict[str, str] | None]:
        """One page of /api/statuses: items of these sources (by source, then id), optionally
        only those with these health values."""
        parameters: dict[str, Any] = {}
        query = _any_of("PartitionKey", "p", sources, parameters)
        if healths:
            query += " and " + _any_of("health", "h", healths, parameters)
        entities, continuation = await self._query_page(query, parameters, top, continuation)
        return [StatusRow.from_entity(entity) for entity in entities], continuation

    async def get_item(self, source: str, item_id: str) -> CachedItem | None:
        async with self._storage_call():
            try:
                entity = await self._statuses.get_entity(source, item_id)
            except ResourceNotFoundError:
                return None
        return CachedItem.from_entity(entity)

    async def list_items(self, source: str, *, id_prefix: str = "") -> list[CachedItem]:
        """Every cached item of a source, in id order; ``id_prefix`` narrows it (a service
        principal's jobs share the prefix ``{spId}:``)."""
        query, parameters = "PartitionKey eq @source", {"source": source}
        if id_prefix:
            # RowKeys from the prefix up to (not including) the prefix with its last
            # character bumped: exactly the keys that start with the prefix.
            query += " and RowKey ge @low and RowKey lt @high"
            parameters |= {"low": id_prefix, "high": id_prefix[:-1] + chr(ord(id_prefix[-1]) + 1)}
        async with self._storage_call():
            entities = self._statuses.query_entities(query, parameters=parameters)
            return [CachedItem.from_entity(entity) async for entity in entities]

    async def _query_page(
        self,
        query: str,
        parameters: dict[str, Any],
        top: int,
        continuation: dict[str, str] | None,
        *,
        table: TableClient | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        """Up to ``top`` entities and the continuation after them.

        Table Storage may answer a filtered query with fewer rows than asked (even none) and a
        continuation, so this asks again until the page is full or the rows are done.
        """
        found: list[dict[str, Any]] = []
        async with self._storage_call():
            while True:
                pages = (
                    (table or self._statuses)
                    .query_entities(query, parameters=parameters, results_per_page=top - len(found))
                    .by_page(continuation_token=continuation)
                )
                page = await anext(pages)
                found.extend([entity async for entity in page])
                continuation = pages.continuation_token
                if not continuation or len(found) >= top:
                    return found, continuation

    async def read_source(self, source: str) -> dict[str, dict[str, Any]]:
        """Every cached entity of a source by RowKey: what a poll compares Graph against."""
        async with self._storage_call():
            entities = self._statuses.query_entities(
                "PartitionKey eq @source", parameters={"source": source}
            )
            return {entity["RowKey"]: entity async for entity in entities}

    async def replace_profile(self, profile: CachedProfile, *, etag: str) -> str:
        """Replace a cached profile if its ETag is still ``etag``; return the new ETag.

        Raises VersionConflictError when another writer got there first, NotFoundError when
        the profile was removed meanwhile.
        """
        async with self._storage_call():
            try:
                result = await self._statuses.update_entity(
                    profile.to_entity(),
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                raise VersionConflictError(
                    f"The profileStatus of '{profile.id}' has changed since the ETag in "
                    "If-Match; GET it again and retry with the new ETag."
                ) from None
            except ResourceNotFoundError:
                raise NotFoundError(
                    f"No synchronization profile with id '{profile.id}' is cached."
                ) from None
        return result["etag"]

    async def write_source(self, changes: Iterable[Change]) -> WriteOutcome:
        """Apply a poll's changes: batch transactions of up to 100 operations per partition.

        Each write is conditional on the ETag the poll read, so a PATCH that landed meanwhile
        is noticed; the batch is then written one by one without the condition (see
        ``_write_one``). A storage outage fails only the batch it hits.
        """
        outcome = WriteOutcome()
        limit = asyncio.Semaphore(_TRANSACTIONS_AT_ONCE)

        async def submit(batch: list[_Operation]) -> None:
            try:
                async with limit, self._storage_call():
                    await self._statuses.submit_transaction(batch)
            except TableTransactionError as error:
                logger.info("Batch of %d failed (%s); writing one by one", len(batch), error)
                for operation in batch:
                    await self._write_one(operation, outcome)
                return
            except StorageUnavailableError as error:
                logger.warning("Batch of %d not written: %s", len(batch), error)
                for _kind, entity, _options in batch:
                    outcome.failed[entity["RowKey"]] = "storageUnavailable"
                return
            for kind, _entity, _options in batch:
                if kind == "delete":
                    outcome.removed += 1
                else:
                    outcome.written += 1

        operations = [change.operation() for change in changes]
        await asyncio.gather(*(submit(batch) for batch in _batches(operations)))
        return outcome

    async def _write_one(self, operation: _Operation, outcome: WriteOutcome) -> None:
        """A write whose batch failed, alone and unconditionally. Graph's new status wins
        over a PATCH made since the poll read the cache (DESIGN.md); a MERGE of the listing's
        fields leaves the status columns, PATCHed or not, as they are."""
        kind, entity, options = operation
        try:
            async with self._storage_call():
                if kind == "delete":
                    with suppress(ResourceNotFoundError):
                        await self._statuses.delete_entity(entity["PartitionKey"], entity["RowKey"])
                    outcome.removed += 1
                else:
                    mode = options.get("mode", UpdateMode.REPLACE)
                    await self._statuses.upsert_entity(entity, mode=mode)
                    outcome.written += 1
        except StorageUnavailableError as error:
            logger.warning("Could not write %s: %s", entity["RowKey"], error)
            outcome.failed[entity["RowKey"]] = "storageUnavailable"
        except (HttpResponseError, ValueError) as error:
            code = getattr(error, "error_code", None) or type(error).__name__
            logger.warning("Could not write %s: %s", entity["RowKey"], error)
            outcome.failed[entity["RowKey"]] = str(code)

    # -- poll runs --------------------------------------------------------------------------

    async def save_poll_run(self, run: PollRun) -> None:
        async with self._storage_call():
            await self._poll_runs.upsert_entity(run.to_entity(), mode=UpdateMode.REPLACE)

    async def list_poll_runs(self) -> list[PollRun]:
        async with self._storage_call():
            entities = self._poll_runs.query_entities(
                "PartitionKey eq @kind", parameters={"kind": "pollRun"}
            )
            return [PollRun.from_entity(entity) async for entity in entities]

    # -- change history ---------------------------------------------------------------------

    async def record_history(self, changes: list[StatusChange], event_ids: list[str]) -> None:
        """Add changes to the history, as batch transactions per source."""
        operations: list[_Operation] = []
        for change, event_id in zip(changes, event_ids, strict=True):
            entity = {
                "PartitionKey": change.source,
                "RowKey": _history_key(change.id, change.changedDateTime, event_id),
                "changedDateTime": change.changedDateTime,
            }
            _put_text(entity, "change", change.model_dump_json())
            operations.append(("upsert", entity, {"mode": UpdateMode.REPLACE}))
        await self._submit_all(self._history, operations)

    async def list_history(
        self, source: str, item_id: str, *, top: int, continuation: dict[str, str] | None
    ) -> tuple[list[StatusChange], dict[str, str] | None]:
        """One page of an item's changes, newest first."""
        prefix = _escape_history_id(item_id) + _HISTORY_SEPARATOR
        query = "PartitionKey eq @source and RowKey ge @low and RowKey lt @high"
        parameters = {"source": source, "low": prefix, "high": prefix[:-1] + _HISTORY_AFTER}
        entities, continuation = await self._query_page(
            query, parameters, top, continuation, table=self._history
        )
        changes = [
            StatusChange.model_validate_json(get_text(e, "change") or "{}") for e in entities
        ]
        return changes, continuation

    async def prune_history(self, before: str) -> int:
        """Delete changes older than ``before`` (a timestamp); return how many."""
        return await self._delete_where(
            self._history, "changedDateTime lt @before", {"before": before}
        )

    # -- outbox ------------------------------------------------------------------------------

    async def add_to_outbox(self, target: str, events: list[ChangeEvent]) -> None:
        """Queue events for one delivery target. An event already queued (the same eventId,
        queued again after a failure part-way) is left as it is, delivered or not, so an
        acknowledged event is never sent twice."""
        operations: list[_Operation] = []
        for event in events:
            entity: dict[str, Any] = {
                "PartitionKey": target,
                "RowKey": _outbox_key(event),
                "attempts": 0,
                "delivered": False,
                "changedDateTime": event.changedDateTime,
            }
            _put_text(entity, "event", event.model_dump_json())
            operations.append(("create", entity, {}))
        try:
            await self._submit_all(self._outbox, operations)
        except TableTransactionError:
            # Some were there already (a batch is all or nothing): one by one, keeping those.
            for _kind, entity, _options in operations:
                async with self._storage_call():
                    with suppress(ResourceExistsError):
                        await self._outbox.create_entity(entity)

    async def outbox_targets(self) -> list[str]:
        """The delivery targets that have events waiting."""
        async with self._storage_call():
            entities = self._outbox.query_entities("delivered eq false", select=["PartitionKey"])
            return list(dict.fromkeys([entity["PartitionKey"] async for entity in entities]))

    async def read_outbox(
        self, target: str, limit: int
    ) -> list[tuple[ChangeEvent, dict[str, Any]]]:
        """The oldest waiting events of a target, with their entities (to settle)."""
        async with self._storage_call():
            pages = self._outbox.query_entities(
                "PartitionKey eq @target and delivered eq false",
                parameters={"target": target},
                results_per_page=limit,
            ).by_page()
            entities: list[dict[str, Any]] = []
            async for page in pages:
                entities += [entity async for entity in page]
                if len(entities) >= limit:
                    break
        return [
            (ChangeEvent.model_validate_json(get_text(entity, "event") or "{}"), entity)
            for entity in entities[:limit]
        ]

    async def settle_outbox(self, entity: dict[str, Any], *, delivered: bool) -> None:
        """Mark an event delivered (or given up on), keeping it as a marker until the daily
        prune so it is never queued again; else count the failed attempt."""
        keys = {"PartitionKey": entity["PartitionKey"], "RowKey": entity["RowKey"]}
        if delivered:
            columns: dict[str, Any] = {"delivered": True}
        else:
            columns = {"attempts": int(entity.get("attempts", 0)) + 1}
        async with self._storage_call():
            with suppress(ResourceNotFoundError):
                await self._outbox.update_entity(keys | columns, mode=UpdateMode.MERGE)

    async def prune_outbox(self, before: str) -> int:
        """Delete delivered events (and markers) older than ``before``; return how many."""
        query = "delivered eq true and changedDateTime lt @before"
        return await self._delete_where(self._outbox, query, {"before": before})

    async def keep_pending_changes(self, source: str, changes: list[StatusChange]) -> int:
        """Attach changes that could not be recorded to their items, for the next poll to
        record; return how many found their item (a removed item's change cannot be kept)."""
        by_item: dict[str, list[str]] = {}
        for change in changes:
            by_item.setdefault(change.id, []).append(change.model_dump_json())
        kept = 0
        for item_id, pending in by_item.items():
            entity = {"PartitionKey": source, "RowKey": item_id}
            _put_text(entity, "pendingChanges", "[" + ",".join(pending) + "]")
            async with self._storage_call():
                try:
                    await self._statuses.update_entity(entity, mode=UpdateMode.MERGE)
                except ResourceNotFoundError:
                    continue
            kept += len(pending)
        return kept

    async def clear_pending_changes(self, source: str, item_ids: Iterable[str]) -> None:
        for item_id in item_ids:
            entity = {"PartitionKey": source, "RowKey": item_id, "pendingChanges": ""}
            async with self._storage_call():
                with suppress(ResourceNotFoundError):
                    await self._statuses.update_entity(entity, mode=UpdateMode.MERGE)

    async def clear_outbox(self, target: str) -> None:
        """Drop every event waiting for a target (its subscription is gone or disabled)."""
        await self._delete_where(self._outbox, "PartitionKey eq @target", {"target": target})

    # -- subscriptions -----------------------------------------------------------------------

    async def save_subscription(self, subscription: Subscription) -> None:
        entity = {
            "PartitionKey": "subscription",
            "RowKey": subscription.id,
            "notificationUrl": subscription.notificationUrl,
            "status": subscription.status,
            "createdDateTime": subscription.createdDateTime,
        }
        if subscription.filter is not None:
            entity["filter"] = subscription.filter.model_dump_json(exclude_none=True)
        _put_optional(entity, "disabledReason", subscription.disabledReason)
        async with self._storage_call():
            await self._subscriptions.upsert_entity(entity, mode=UpdateMode.REPLACE)

    async def get_subscription(self, subscription_id: str) -> Subscription | None:
        async with self._storage_call():
            try:
                entity = await self._subscriptions.get_entity("subscription", subscription_id)
            except ResourceNotFoundError:
                return None
        return _subscription(entity)

    async def list_subscriptions(self) -> list[Subscription]:
        async with self._storage_call():
            entities = self._subscriptions.query_entities(
                "PartitionKey eq @kind", parameters={"kind": "subscription"}
            )
            return [_subscription(entity) async for entity in entities]

    async def delete_subscription(self, subscription_id: str) -> bool:
        """Delete a subscription; False when there was none."""
        async with self._storage_call():
            try:
                await self._subscriptions.get_entity("subscription", subscription_id)
            except ResourceNotFoundError:
                return False
            with suppress(ResourceNotFoundError):
                await self._subscriptions.delete_entity("subscription", subscription_id)
        await self.clear_outbox(subscription_id)
        return True

    # -- plumbing ---------------------------------------------------------------------------

    async def _delete_where(
        self, table: TableClient, query: str, parameters: dict[str, Any]
    ) -> int:
        """Delete the entities ``query`` finds, as batch transactions; return how many."""
        async with self._storage_call():
            found = table.query_entities(
                query, parameters=parameters, select=["PartitionKey", "RowKey"]
            )
            operations: list[_Operation] = [
                ("delete", {"PartitionKey": e["PartitionKey"], "RowKey": e["RowKey"]}, {})
                async for e in found
            ]
        await self._submit_all(table, operations)
        return len(operations)

    async def _submit_all(self, table: TableClient, operations: list[_Operation]) -> None:
        """Operations as batch transactions: one partition each, within the limits."""
        by_partition: dict[str, list[_Operation]] = {}
        for operation in operations:
            by_partition.setdefault(operation[1]["PartitionKey"], []).append(operation)
        limit = asyncio.Semaphore(_TRANSACTIONS_AT_ONCE)

        async def submit(batch: list[_Operation]) -> None:
            async with limit, self._storage_call():
                await table.submit_transaction(batch)

        batches = [batch for group in by_partition.values() for batch in _batches(group)]
        await asyncio.gather(*(submit(batch) for batch in batches))

    async def _ensure_tables(self) -> None:
        if self._tables_ready:
            return
        async with self._tables_lock:
            if not self._tables_ready:
                tables = (
                    self._statuses,
                    self._poll_runs,
                    self._history,
                    self._outbox,
                    self._subscriptions,
                )
                for table in tables:
                    with suppress(ResourceExistsError):
                        await self._service.create_table(table.table_name)
                self._tables_ready = True

    @asynccontextmanager
    async def _storage_call(self) -> AsyncIterator[None]:
        """Create the tables on first use and turn outages into StorageUnavailableError."""
        try:
            await self._ensure_tables()
            yield
        except (ServiceRequestError, ServiceResponseError, ClientAuthenticationError) as error:
            raise StorageUnavailableError(str(error)) from error
        except HttpResponseError as error:
            # No answer, a server error, throttling, or no access (a role assignment missing
            # or not yet propagated): nothing the caller can fix, so 503 + Retry-After.
            if (
                error.status_code is None
                or error.status_code >= 500
                or error.status_code
                in (
                    401,
                    403,
                    408,
                    429,
                )
            ):
                raise StorageUnavailableError(str(error)) from error
            raise


# A history RowKey: the item id (with % and ~ escaped), ~, then an inverted time, so that an
# item's changes sort together, newest first. "~" is the highest printable ASCII character.
_HISTORY_SEPARATOR = "~"
_HISTORY_AFTER = "\x7f"
_NS_CEILING = 10**20


def _escape_history_id(item_id: str) -> str:
    escaped = item_id.replace("%", "%25").replace("~", "%7E").replace("=", "%3D")
    # A RowKey holds 1 KiB (UTF-16) and the time and event id take 58 characters: a long id
    # is named by its digest instead ("=" starts no escaped id, so the two cannot meet).
    if len(escaped.encode("utf-16-le")) > 800:
        return "=" + hashlib.sha256(item_id.encode("utf-8", "surrogatepass")).hexdigest()
    return escaped


def _history_key(item_id: str, changed: str, event_id: str) -> str:
    inverted = _NS_CEILING - timestamp_ns(changed)
    return f"{_escape_history_id(item_id)}{_HISTORY_SEPARATOR}{inverted:020d}-{event_id}"


def _outbox_key(event: ChangeEvent) -> str:
    return f"{timestamp_ns(event.changedDateTime):020d}-{event.eventId}"


def _subscription(entity: dict[str, Any]) -> Subscription:
    raw_filter = entity.get("filter")
    return Subscription(
        id=entity["RowKey"],
        notificationUrl=entity["notificationUrl"],
        filter=SubscriptionFilter.model_validate_json(raw_filter) if raw_filter else None,
        status=entity.get("status", "active"),
        createdDateTime=entity.get("createdDateTime", ""),
        disabledReason=entity.get("disabledReason"),
    )


def _any_of(column: str, prefix: str, values: list[str], parameters: dict[str, Any]) -> str:
    """``( column eq @p0 or column eq @p1 ... )``, adding the values to ``parameters``."""
    names = [f"{prefix}{index}" for index in range(len(values))]
    parameters.update(zip(names, values, strict=True))
    # Spaces around the parentheses: the SDK finds @names by splitting on spaces.
    return "( " + " or ".join(f"{column} eq @{name}" for name in names) + " )"


def _batches(operations: list[_Operation]) -> Iterable[list[_Operation]]:
    """Split operations into transactions within Table Storage's count and size limits."""
    batch: list[_Operation] = []
    size = 0
    for operation in operations:
        # UTF-16 plus JSON overhead is at most about 3 bytes per character.
        operation_size = 3 * sum(len(str(value)) for value in operation[1].values()) + 512
        if batch and (
            len(batch) == _MAX_BATCH_OPERATIONS or size + operation_size > _MAX_BATCH_BYTES
        ):
            yield batch
            batch, size = [], 0
        batch.append(operation)
        size += operation_size
    if batch:
        yield batch


def _storage_credential(settings: Settings) -> Any:
    """The identity that reaches storage when AzureWebJobsStorage is identity-based."""
    if settings.storage.use_managed_identity:
        from azure.identity.aio import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=settings.storage.client_id)
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential()


# One store per event loop: the SDK's aiohttp session belongs to the loop that created it.
_stores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Settings, StatusStore]] = (
    weakref.WeakKeyDictionary()
)
_closing: set[asyncio.Task[None]] = set()


def get_status_store() -> StatusStore:
    """The process's StatusStore for the running event loop, reusing its connections."""
    settings = get_settings()
    loop = asyncio.get_running_loop()
    cached = _stores.get(loop)
    if cached is not None:
        if cached[0] == settings:
            return cached[1]
        # Settings changed (tests do that): release the old connections.
        _closing.add(closing := loop.create_task(cached[1].close()))
        closing.add_done_callback(_closing.discard)
    store = StatusStore.from_settings(settings)
    _stores[loop] = (settings, store)
    return store


async def close_status_store() -> None:
    """Close the running event loop's StatusStore, if it has one (on shutdown)."""
    cached = _stores.pop(asyncio.get_running_loop(), None)
    if cached is not None:
        await cached[1].close()
