"""Domain errors: what went wrong, in words, without HTTP. Code below the HTTP layer raises
these; ``shared.http.errors`` is the one place that turns them into Graph-shaped responses."""

from __future__ import annotations


class DomainError(Exception):
    """A failure the caller is told about; ``target`` names the parameter or property at
    fault, when there is one; ``code`` is the error code to pass on when another service's
    (Graph's) is more telling than the kind's own."""

    def __init__(self, message: str, *, target: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.target = target
        self.code = code


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


class UnauthenticatedError(DomainError):
    """The caller did not say who it is in a way the app checks (a tenant's key, a sign-in)."""


class ForbiddenError(DomainError):
    """What the caller asks is not allowed: switched off by a setting, or refused by Graph."""


class ConflictError(DomainError):
    """The item is in a state that does not allow what was asked (Graph's 409)."""


class TooManyRequestsError(DomainError):
    """The caller asks again too soon; ``retry_after`` says when it may."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GraphUnavailableError(DomainError):
    """Graph failed, timed out or throttled what the app asked on the caller's behalf;
    ``retry_after`` is Graph's own wait, when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class VersionConflictError(DomainError):
    """The item changed since the version (ETag) the caller named."""


class ContentionError(DomainError):
    """Other writers kept changing the item while this write tried to land."""


class StorageUnavailableError(DomainError):
    """Table Storage could not be reached, answered with a server error, throttled, or
    refused access: nothing the caller can fix."""


class SettingsError(DomainError):
    """A setting is missing or invalid; the message names it and says what is expected."""
