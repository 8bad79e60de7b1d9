"""The API's requests and answers without HTTP: what a route's handler receives
(``ApiCall``) and returns (``Reply``), and the query conventions every list shares (``$top``,
an opaque ``$skiptoken`` in ``@odata.nextLink``, comma-separated filters).

``shared.http`` builds an ApiCall from the Functions request and turns a Reply (or a domain
error) into the response, so handlers below it never see a status code.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from shared.core.errors import InvalidInputError, RequestTooLargeError
from shared.core.jsontext import parse_json

MAX_BODY_BYTES = 64 * 1024
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 999
# Table Storage's continuation tokens are short printable ASCII (base64 and the like).
_TOKEN_PART = re.compile(r"[\x21-\x7e]{1,1024}")


@dataclass(frozen=True)
class ApiCall:
    """One request to the API: its URL, route parameters, query, headers and body."""

    url: str
    route: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    # Header names in lower case.
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json_body(self) -> Any:
        """The JSON body: RequestTooLargeError over 64 KiB, InvalidInputError if not JSON."""
        if len(self.body) > MAX_BODY_BYTES:
            raise RequestTooLargeError(MAX_BODY_BYTES)
        try:
            document = parse_json(self.body)
            # JSON may escape lone surrogates ("\ud800"), which no storage or response can encode.
            json.dumps(document, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise InvalidInputError(
                "The request body holds a lone surrogate, which is not Unicode."
            ) from None
        except RecursionError:
            raise InvalidInputError("The request body is nested too deeply.") from None
        except ValueError as error:
            raise InvalidInputError(f"The request body is not valid JSON: {error}.") from None
        return document


@dataclass(frozen=True)
class Reply:
    """What a handler answers: a JSON body (None: no content), the item's version, the
    address of a resource it created, and whether it answers for work Graph accepted (an
    action) rather than for what the cache holds."""

    body: Any = None
    etag: str | None = None
    location: str | None = None
    accepted: bool = False


# -- lists: page size, skip token, filters ------------------------------------------------------


@dataclass(frozen=True)
class PageRequest:
    """Which page of a list a caller asks for: ``$top`` and the decoded ``$skiptoken``."""

    top: int
    continuation: dict[str, str] | None

    @classmethod
    def of(cls, call: ApiCall) -> PageRequest:
        return cls(
            _page_size(call.query.get("$top")), _decode_skiptoken(call.query.get("$skiptoken"))
        )


def next_link(
    call: ApiCall, page: PageRequest, continuation: dict[str, str], filters: dict[str, str]
) -> str:
    """The ``@odata.nextLink`` of a list page: the same route, filters and page size, and an
    opaque ``$skiptoken`` for where the next page starts, on the app's public origin (the
    call's ``url``). Never with the caller's key: a link gets copied into logs, run
    histories and chats, so a caller that used ``?code=`` adds its own again."""
    query = {"$top": str(page.top), "$skiptoken": _encode_skiptoken(continuation), **filters}
    scheme, netloc, path, _query, _fragment = urlsplit(call.url)
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def name_filter(raw: str | None, name: str, allowed: list[str]) -> list[str] | None:
    """A comma-separated filter (``?health=error,warning``) whose values must be ``allowed``."""
    if raw is None:
        return None
    values = list(dict.fromkeys(value.strip() for value in raw.split(",") if value.strip()))
    if not values:
        raise InvalidInputError(
            f"The {name} filter is empty; give one or more values.", target=name
        )
    for value in values:
        if value not in allowed:
            raise InvalidInputError(
                f"'{value}' is not a {name}; use one or more of: {', '.join(allowed)}.",
                target=name,
            )
    return values


def _page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    # Length first: int() refuses strings of over 4,300 digits with a ValueError.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_PAGE_SIZE):
        raise InvalidInputError(
            f"$top must be a whole number from 1 to {MAX_PAGE_SIZE}.", target="$top"
        )
    return int(raw)


def _encode_skiptoken(continuation: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(continuation).encode()).decode().rstrip("=")


def _decode_skiptoken(raw: str | None) -> dict[str, str] | None:
    if raw is None:
        return None
    try:
        padded = raw + "=" * (-len(raw) % 4)
        token = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        token = None
    # Storage's continuation, or (across tenants) the tenant the next page starts with.
    valid_keys = {"PartitionKey", "RowKey", "tenantId"}
    if (
        not isinstance(token, dict)
        or not token
        or not set(token) <= valid_keys
        or not all(isinstance(v, str) and _TOKEN_PART.fullmatch(v) for v in token.values())
    ):
        raise InvalidInputError(
            "The $skiptoken is not valid; use the nextLink as given.", target="$skiptoken"
        )
    return token
