"""The one paging rule of every Graph listing: which ``@odata.nextLink`` may be followed.

A nextLink is Graph's answer, so it is untrusted input like any other: followed blindly it
would send the app's token and requests to any host (an internal endpoint, another port of
this machine) and keep what came back as data, or page forever. A link is followed only when
its scheme, host and port are those of GRAPH_BASE_URL, its path stays under the listing's own
version (``/v1.0/`` or ``/beta/``) with no dot segments, it carries no user information and
it was not followed before; and a listing stops after GRAPH_MAX_PAGES pages. Anything else
ends the listing with a GraphError (``invalidNextLink``, ``tooManyPages``) after the pages
already read, which each source handles as the incomplete listing it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from shared.graph.errors import GraphError

_DEFAULT_PORTS = {"http": 80, "https": 443}
# The version segment of a request template ("{+baseurl}/v1.0/servicePrincipals...").
_TEMPLATE_VERSION = re.compile(r"\{\+baseurl\}/(v1\.0|beta)/")


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int | None

    @classmethod
    def of(cls, url: str) -> _Origin:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        try:
            port = parts.port or _DEFAULT_PORTS.get(scheme)
        except ValueError:  # a port that is not a number, or out of range
            port = -1
        return cls(scheme, (parts.hostname or "").lower(), port)


class PagingRule:
    """What a Graph client's listings may follow: Graph's own origin and version paths."""

    def __init__(self, base_url: str, max_pages: int) -> None:
        self._origin = _Origin.of(base_url)
        self._base_path = urlsplit(base_url).path.rstrip("/")
        self.max_pages = max_pages

    def listing(self, url_template: str) -> Listing:
        """The paging state of one listing whose first page came from ``url_template``."""
        match = _TEMPLATE_VERSION.match(url_template)
        if match is None:
            raise ValueError(f"A listing's template names no Graph version: {url_template!r}")
        return Listing(self, f"{self._base_path}/{match[1]}/")

    def check(self, link: str, prefix: str) -> None:
        """Raise ``invalidNextLink`` unless ``link`` stays on Graph under ``prefix``."""
        parts = urlsplit(link)
        reason = None
        if _Origin.of(link) != self._origin:
            reason = "points away from Graph's own host"
        elif "@" in parts.netloc:
            reason = "carries user information"
        elif not parts.path.startswith(prefix):
            reason = f"leaves {prefix}"
        elif any(unquote(segment) in (".", "..") for segment in parts.path.split("/")):
            reason = "has dot segments"
        elif any(ord(char) < 0x21 or ord(char) == 0x7F or char == "\\" for char in link):
            reason = "holds control characters, spaces or backslashes"
        if reason is not None:
            # The link itself is not repeated: it may carry anything.
            raise GraphError(
                200,
                "invalidNextLink",
                f"Graph's @odata.nextLink {reason}; the listing stops here, incomplete.",
            )


@dataclass
class Listing:
    """One listing being paged: its version's path, the links followed, the pages read."""

    rule: PagingRule
    prefix: str
    pages: int = 1
    followed: set[str] = field(default_factory=set)

    def next_link(self, page: dict[str, Any]) -> str | None:
        """The link to the page after ``page`` (None: it was the last), or a GraphError."""
        link = page.get("@odata.nextLink")
        if link is None or link == "":
            return None
        if not isinstance(link, str):
            raise GraphError(200, "invalidNextLink", "Graph's @odata.nextLink is not a string.")
        self.rule.check(link, self.prefix)
        # A link seen before would page forever: stop, as an incomplete listing.
        if link in self.followed:
            raise GraphError(200, "invalidResponse", "The nextLink repeats an earlier page.")
        if self.pages >= self.rule.max_pages:
            raise GraphError(
                200,
                "tooManyPages",
                f"The listing has more than {self.rule.max_pages} pages (GRAPH_MAX_PAGES); "
                "it stops here, incomplete.",
            )
        self.followed.add(link)
        self.pages += 1
        return link
