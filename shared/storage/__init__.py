"""Azure Table Storage: every table read and write of the app, one module per table, and the
codec that keeps Graph's JSON exact in entities.

Tables (created on first use, named with STATUS_TABLE_PREFIX):
- ``{prefix}Statuses``: one entity per monitored item; PartitionKey is the source name,
  RowKey the item's id (``statuses``).
- ``{prefix}PollRuns``: one entity per source, its last poll run, for /api/health
  (``poll_runs``).
- ``{prefix}History``: every change of an item's status or health, newest first per item
  (``history``).
- ``{prefix}Outbox``: change events not yet delivered, per delivery target (``outbox``).
- ``{prefix}Subscriptions``: the webhook subscriptions made through the API
  (``subscriptions``).

Outages (no answer, 5xx, throttling, no access) become ``StorageUnavailableError``; an id
Table Storage cannot hold is an ``InvalidKeyError`` before any request is made.
"""
