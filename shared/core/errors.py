"""Domain errors: what went wrong, in words, without HTTP. Code below the HTTP layer raises
these; ``shared.http.errors`` is the one place that turns them into Graph-shaped responses."""

from __future__ import annotations


class DomainError(Exception):
    """A failure the caller is told about; ``target`` names the parameter or property at
    fault, when there is one."""

    def __init__(self, message: str, *, target: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.target = target


class InvalidInputError(DomainError):
    """The caller sent something that cannot be used (a body, a parameter, an id)."""


class InvalidKeyError(InvalidInputError):
    """An id that Table Storage cannot hold as a key."""


class RequestTooLargeError(InvalidInputError):
    """A request body over the size the app takes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body exceeds {limit} bytes.")
        self.limit = limit


class NotFoundError(DomainError):
    """The item asked for is not cached (or not monitored)."""


class VersionConflictError(DomainError):
    """The item changed since the version (ETag) the caller named."""


class ContentionError(DomainError):
    """Other writers kept changing the item while this write tried to land."""


class StorageUnavailableError(DomainError):
    """Table Storage could not be reached, answered with a server error, throttled, or
    refused access: nothing the caller can fix."""


class SettingsError(DomainError):
    """A setting is missing or invalid; the message names it and says what is expected."""
