"""Secrets the app makes for itself (the key that signs the board's form tokens), kept in
``{prefix}PollRuns``: made once per deployment by whichever instance asks first (a create
that only one can win), then read by every instance, so a token signed by one instance
holds on another. Kept in memory once read."""

from __future__ import annotations

import base64
import secrets

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from shared.storage.tables import TableService

_PARTITION = "appSecrets"
_BYTES = 32


class AppSecretsTable:
    def __init__(self, tables: TableService) -> None:
        self._tables = tables
        self._table = tables.table("PollRuns")
        self._known: dict[str, bytes] = {}

    async def secret(self, name: str) -> bytes:
        """The secret called ``name`` (32 random bytes), made on first use."""
        known = self._known.get(name)
        if known is not None:
            return known
        async with self._tables.call():
            try:
                entity = await self._table.get_entity(_PARTITION, name)
            except ResourceNotFoundError:
                made = base64.b64encode(secrets.token_bytes(_BYTES)).decode()
                try:
                    await self._table.create_entity(
                        {"PartitionKey": _PARTITION, "RowKey": name, "value": made}
                    )
                    entity = {"value": made}
                except ResourceExistsError:  # another instance made it first: theirs holds
                    entity = await self._table.get_entity(_PARTITION, name)
        value = base64.b64decode(entity["value"])
        self._known[name] = value
        return value
