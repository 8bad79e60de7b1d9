"""The constants of Industry Data runs."""

# The source's name in rows, history, events, health and the cache's partition.
NAME = "industryDataRuns"
# Run statuses whose statistics explain the outcome: fetched once when a run finishes so.
RUN_STATUSES_WITH_STATISTICS = frozenset({"completedWithErrors", "completedWithWarnings"})
