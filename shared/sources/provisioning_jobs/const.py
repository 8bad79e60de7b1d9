"""The constants of Entra ID provisioning jobs."""

# The source's name in rows, history, events, health and the cache's partition.
NAME = "synchronizationJobs"
# A job's id (and RowKey) joins its service principal and its own id; an object id holds no
# colon.
JOB_KEY_SEPARATOR = ":"
