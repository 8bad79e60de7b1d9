"""The constants of School Data Sync (classic)."""

# The source's name in rows, history, events, health and the cache's partition.
NAME = "educationSynchronizationProfiles"

# What Graph answers (400) once it no longer knows an API's path segment: a retirement.
RETIRED_MESSAGE = "Resource not found for the segment"
