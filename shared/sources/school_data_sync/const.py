"""The constants of School Data Sync (classic)."""

# The source's name in rows, history, events, health and the cache's partition.
NAME = "educationSynchronizationProfiles"
