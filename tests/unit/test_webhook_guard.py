"""The server-side request forgery guard on webhook URLs."""

from __future__ import annotations

import socket

import pytest

from shared.core.errors import SettingsError
from shared.core.urlguard import WebhookUrlError, check_url_form, check_url_target
from shared.sources import load_settings

LOCAL = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


@pytest.mark.parametrize(
    "url",
    [
        "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke",
        "https://contoso.webhook.office.com/webhookb2/x",
        "https://8.8.8.8/hook",
        "https://example.com:8443/hook?sig=abc",
    ],
)
def test_public_https_urls_pass(url: str) -> None:
    check_url_form(url, allow_insecure=False)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.com/hook", "only https"),
        ("ftp://example.com/hook", "only https"),
        ("https:///hook", "no host"),
        ("https://user:secret@example.com/", "user credentials"),
        ("https://localhost/hook", "local name"),
        ("https://printer.local/hook", "local name"),
        ("https://127.0.0.1/hook", "not a public address"),
        ("https://10.0.0.5/hook", "not a public address"),
        ("https://172.16.3.4/hook", "not a public address"),
        ("https://192.168.1.1/hook", "not a public address"),
        ("https://169.254.169.254/metadata", "not a public address"),
        ("https://[::1]/hook", "not a public address"),
        ("https://[fe80::1]/hook", "not a public address"),
        ("https://[::ffff:10.0.0.1]/hook", "not a public address"),
        ("https://0.0.0.0/hook", "not a public address"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://[64:ff9b::a9fe:a9fe]/hook", "not a public address"),  # NAT64 169.254.169.254
        ("https://[2002:0a00:0001::1]/hook", "not a public address"),  # 6to4 of 10.0.0.1
        ("https://[::7f00:1]/hook", "not a public address"),  # IPv4-compatible 127.0.0.1
        ("https://example.com/a\x01b", "HTTP client accepts"),
    ],
)
def test_unsafe_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(WebhookUrlError, match=why):
        check_url_form(url, allow_insecure=False)


def test_insecure_mode_allows_local_http() -> None:
    check_url_form("http://127.0.0.1:8080/hook", allow_insecure=True)
    with pytest.raises(WebhookUrlError):
        check_url_form("file:///etc/passwd", allow_insecure=True)


async def test_a_name_that_resolves_to_a_private_address_is_refused_at_delivery() -> None:
    host = socket.gethostname()  # this machine's name: loopback or a private address here
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        pytest.skip(f"{host} does not resolve on this machine")
    with pytest.raises(WebhookUrlError, match=r"resolves to .+, not a public address"):
        await check_url_target(f"https://{host}/hook", allow_insecure=False)


def test_a_trailing_dot_does_not_hide_localhost() -> None:
    with pytest.raises(WebhookUrlError, match="local name"):
        check_url_form("https://LocalHost./hook", allow_insecure=False)


def test_static_webhook_urls_are_checked_without_echoing_them() -> None:
    settings = load_settings(
        LOCAL | {"NOTIFY_WEBHOOK_URLS": "https://a.example/x, https://b.example/y"}
    )
    assert settings.notify_webhook_urls == ("https://a.example/x", "https://b.example/y")
    with pytest.raises(SettingsError) as raised:
        load_settings(LOCAL | {"NOTIFY_WEBHOOK_URLS": "http://10.0.0.1/hook?sig=topsecret"})
    assert "NOTIFY_WEBHOOK_URLS" in str(raised.value)
    assert "topsecret" not in str(raised.value)
    assert load_settings(LOCAL).history_retention_days == 90


def test_the_post_goes_to_the_address_that_was_checked() -> None:
    import httpx

    from shared.webhooks.delivery import _pinned_request

    client = httpx.AsyncClient()
    request = _pinned_request(
        client, "https://hooks.example.com:8443/x?sig=s", b"{}", "203.0.113.9", 5
    )
    assert str(request.url) == "https://203.0.113.9:8443/x?sig=s"
    assert request.headers["Host"] == "hooks.example.com:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.com"  # TLS checks the name
