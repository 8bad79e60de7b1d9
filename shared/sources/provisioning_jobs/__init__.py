"""Entra ID provisioning jobs: the synchronization jobs of the service principals an admin
names, each kept whole with its ``synchronizationStatus`` (Graph v1.0).

Graph has no tenant-wide list of jobs, so each service principal is listed on its own: one
failing keeps its jobs' last values while the others go on. A job's id in rows, history and
events is ``{servicePrincipalId}:{jobId}``.
"""

from shared.sources.provisioning_jobs.source import ProvisioningJobs

__all__ = ["ProvisioningJobs"]
