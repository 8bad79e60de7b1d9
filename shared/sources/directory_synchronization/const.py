"""The constants of directory synchronization (Entra Connect)."""

# The source's name in rows, history, events, health and the cache's partition.
NAME = "directorySynchronization"
# How often Entra Connect syncs by default: what the reason says is expected.
CONNECT_SYNC_INTERVAL_MINUTES = 30
# The Graph version the organization is read from: beta, the only one whose organization has
# onPremisesLastPasswordSyncDateTime (Graph refuses a $select of a property its version lacks,
# with a 400). Beta's organization has the other fields too, so one read says it all.
GRAPH_VERSION = "beta"
# The organization's properties the poll reads.
ORGANIZATION_FIELDS = (
    "id",
    "displayName",
    "onPremisesSyncEnabled",
    "onPremisesLastSyncDateTime",
    "onPremisesLastPasswordSyncDateTime",
)
