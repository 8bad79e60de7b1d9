"""Entra Connect (directory synchronization) freshness: the tenant's organization, whose last
sync times are Connect's only health signal in Graph. It is read from beta, the one version
that has the last password hash sync (v1.0's organization lacks it). Health changes with time
alone: a sync that stops coming is an error although Graph keeps sending the same document.
"""

from shared.sources.directory_synchronization.source import DirectorySynchronization

__all__ = ["DirectorySynchronization"]
