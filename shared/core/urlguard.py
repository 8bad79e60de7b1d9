"""The server-side request forgery guard for webhook URLs.

A webhook URL must be https, name a host, carry no user info, and its host may not be or
resolve to a loopback, private, link-local or otherwise non-public address (IPv4 inside IPv6
forms included). ``allow_insecure`` (ALLOW_INSECURE_WEBHOOKS) lifts this for local runs and
tests. Messages name the host, never the URL: a flow's URL carries its signature.
"""

from __future__ import annotations

import asyncio
import ipaddress
from urllib.parse import urlsplit


class WebhookUrlError(ValueError):
    """A webhook URL that may not be used; the message names the host, never the URL (a
    flow's URL carries its signature). ``transient``: it may work later (DNS failed)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def check_url_form(url: str, *, allow_insecure: bool) -> None:
    """The URL's own form: https, a host, no user info; an IP literal must be public."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookUrlError("it is not a valid URL") from None
    host = (parts.hostname or "").rstrip(".").lower()  # "localhost." is localhost too
    if parts.scheme not in (("https", "http") if allow_insecure else ("https",)):
        raise WebhookUrlError("only https URLs are allowed")
    if not host:
        raise WebhookUrlError("it has no host")
    if parts.username or parts.password:
        raise WebhookUrlError(f"it carries user credentials (host {host})")
    if port == 0:
        raise WebhookUrlError(f"port 0 is not a port (host {host})")
    _check_httpx_accepts(url, host)
    if allow_insecure:
        return
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise WebhookUrlError(f"host {host} is a local name")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: its addresses are checked before each delivery
    if not _is_public(address):
        raise WebhookUrlError(f"address {host} is not a public address")


async def check_url_target(url: str, *, allow_insecure: bool) -> str | None:
    """The URL's form and every address its host resolves to now (DNS may have changed
    since it was accepted). Returns the address to connect to (None for an IP literal or in
    insecure mode): the POST goes to that very address, so a second lookup cannot swap in
    a private one."""
    check_url_form(url, allow_insecure=allow_insecure)
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if allow_insecure or _is_ip_literal(host):
        return None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443)
    except OSError:
        raise WebhookUrlError(f"host {host} does not resolve", transient=True) from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if not _is_public(address):
            raise WebhookUrlError(f"host {host} resolves to {address}, not a public address")
    if not addresses:
        raise WebhookUrlError(f"host {host} does not resolve", transient=True)
    return str(addresses[0])


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _check_httpx_accepts(url: str, host: str) -> None:
    """Refuse what the HTTP client would refuse at send time (control characters, say)."""
    import httpx

    try:
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        raise WebhookUrlError(f"it is not a URL the HTTP client accepts (host {host})") from None


# IPv6 ranges that carry an IPv4 address a router may reach: NAT64 (64:ff9b::/96 and the
# local-use 64:ff9b:1::/48), and the deprecated IPv4-compatible ::/96.
_EMBEDDING_IPV4 = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("::/96"),
)


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and any(address in net for net in _EMBEDDING_IPV4):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _is_public(embedded)
    return address.is_global and not address.is_multicast
