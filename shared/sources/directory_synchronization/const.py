"""The constants of directory synchronization (Entra Connect)."""

# The source's name in rows, history, events, health and the cache's partition.
NAME = "directorySynchronization"
# How often Entra Connect syncs by default: what the reason says is expected.
CONNECT_SYNC_INTERVAL_MINUTES = 30
# The organization's properties the poll reads.
ORGANIZATION_FIELDS = (
    "id",
    "displayName",
    "onPremisesSyncEnabled",
    "onPremisesLastSyncDateTime",
    "onPremisesLastPasswordSyncDateTime",
)
