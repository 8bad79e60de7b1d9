"""The Table service as the app uses it: the tables, created on first use; the one place
where outages become ``StorageUnavailableError``; and what every table shares (batch
transactions within Table Storage's limits, paged queries, query-then-delete)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.core.errors import SettingsError, StorageUnavailableError
from shared.settings import Settings
from shared.storage.codec import Entity

# (kind, entity, options) as TableClient.submit_transaction takes them.
TableOperation = tuple[str, Entity, dict[str, Any]]
# Where a query continues: Table Storage's continuation token.
Continuation = dict[str, str]

# A batch transaction holds at most 100 operations and 4 MiB.
_MAX_BATCH_OPERATIONS = 100
_MAX_BATCH_BYTES = 3 * 1024 * 1024
# Transactions sent at once: building and parsing their multipart bodies overlaps with the
# service's work; a partition takes up to 2,000 entities/s, so more would not help in Azure.
TRANSACTIONS_AT_ONCE = 4
# Status codes of an answer that is not the caller's fault: no access (a role assignment
# missing or not yet propagated), a timeout, throttling.
_UNAVAILABLE_STATUSES = frozenset({401, 403, 408, 429})


# Fail fast instead of the SDK's long default back-off: callers answer 503 + Retry-After.
CLIENT_OPTIONS: dict[str, Any] = {"retry_total": 2, "connection_timeout": 5, "read_timeout": 20}


async def create_or_replace(table: TableClient, row: Entity, current: Entity | None) -> None:
    """Create ``row``, or replace ``current`` with it if nobody changed it since it was read:
    ResourceExistsError or ResourceModifiedError when another writer got in first."""
    if current is None:
        await table.create_entity(row)
    else:
        await table.update_entity(
            row, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )  # fmt: skip


class TableService:
    """The app's tables in one storage account, named ``{STATUS_TABLE_PREFIX}{suffix}``."""

    def __init__(self, service: TableServiceClient, table_prefix: str) -> None:
        self._service = service
        self._prefix = table_prefix
        self._tables: dict[str, TableClient] = {}
        self._tables_ready = False
        self._tables_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> TableService:
        storage = settings.storage
        options = CLIENT_OPTIONS
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
                storage.table_service_uri, credential=storage_credential(settings), **options
            )
        else:
            raise SettingsError("AzureWebJobsStorage names no table endpoint.")
        return cls(service, settings.table_prefix)

    def table(self, suffix: str) -> TableClient:
        """The table ``{prefix}{suffix}`` (created, with the others, on first use)."""
        if suffix not in self._tables:
            self._tables[suffix] = self._service.get_table_client(f"{self._prefix}{suffix}")
        return self._tables[suffix]

    async def close(self) -> None:
        await self._service.close()

    @asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        """Create the tables on first use and turn outages into StorageUnavailableError."""
        try:
            await self._ensure_tables()
            yield
        except (ServiceRequestError, ServiceResponseError, ClientAuthenticationError) as error:
            raise StorageUnavailableError(str(error)) from error
        except HttpResponseError as error:
            # No answer, a server error, throttling, or no access: nothing the caller can
            # fix, so 503 + Retry-After.
            status = error.status_code
            if status is None or status >= 500 or status in _UNAVAILABLE_STATUSES:
                raise StorageUnavailableError(str(error)) from error
            raise

    async def submit_all(self, table: TableClient, operations: list[TableOperation]) -> None:
        """Operations as batch transactions: one partition each, within the limits."""
        by_partition: dict[str, list[TableOperation]] = {}
        for operation in operations:
            by_partition.setdefault(operation[1]["PartitionKey"], []).append(operation)
        limit = asyncio.Semaphore(TRANSACTIONS_AT_ONCE)

        async def submit(batch: list[TableOperation]) -> None:
            async with limit, self.call():
                await table.submit_transaction(batch)

        batches = [batch for group in by_partition.values() for batch in batches_of(group)]
        await asyncio.gather(*(submit(batch) for batch in batches))

    async def delete_where(self, table: TableClient, query: str, parameters: dict[str, Any]) -> int:
        """Delete the entities ``query`` finds, as batch transactions; return how many."""
        async with self.call():
            found = table.query_entities(
                query, parameters=parameters, select=["PartitionKey", "RowKey"]
            )
            operations: list[TableOperation] = [
                ("delete", {"PartitionKey": e["PartitionKey"], "RowKey": e["RowKey"]}, {})
                async for e in found
            ]
        await self.submit_all(table, operations)
        return len(operations)

    async def query_page(
        self,
        table: TableClient,
        query: str,
        parameters: dict[str, Any],
        top: int,
        continuation: Continuation | None,
    ) -> tuple[list[Entity], Continuation | None]:
        """Up to ``top`` entities and the continuation after them.

        Table Storage may answer a filtered query with fewer rows than asked (even none) and a
        continuation, so this asks again until the page is full or the rows are done.
        """
        found: list[Entity] = []
        async with self.call():
            while True:
                pages = table.query_entities(
                    query, parameters=parameters, results_per_page=top - len(found)
                ).by_page(continuation_token=continuation)
                page = await anext(pages)
                found.extend([entity async for entity in page])
                continuation = pages.continuation_token
                if not continuation or len(found) >= top:
                    return found, continuation

    async def _ensure_tables(self) -> None:
        if self._tables_ready:
            return
        async with self._tables_lock:
            if not self._tables_ready:
                for table in self._tables.values():
                    with suppress(ResourceExistsError):
                        await self._service.create_table(table.table_name)
                self._tables_ready = True


def any_of(column: str, prefix: str, values: list[str], parameters: dict[str, Any]) -> str:
    """``( column eq @p0 or column eq @p1 ... )``, adding the values to ``parameters``."""
    names = [f"{prefix}{index}" for index in range(len(values))]
    parameters.update(zip(names, values, strict=True))
    # Spaces around the parentheses: the SDK finds @names by splitting on spaces.
    return "( " + " or ".join(f"{column} eq @{name}" for name in names) + " )"


def batches_of(operations: list[TableOperation]) -> Iterable[list[TableOperation]]:
    """Split operations into transactions within Table Storage's count and size limits."""
    batch: list[TableOperation] = []
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


def storage_credential(settings: Settings) -> Any:
    """The identity that reaches storage when AzureWebJobsStorage is identity-based."""
    if settings.storage.use_managed_identity:
        from azure.identity.aio import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=settings.storage.client_id)
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential()
