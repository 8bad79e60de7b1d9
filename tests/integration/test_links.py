"""Links the app builds (a list's nextLink, a subscription's Location) start with the origin
the app is configured for (PUBLIC_BASE_URL, or WEBSITE_HOSTNAME as Azure sets it), never
with the Host header a caller sent, and never carry the caller's key."""

from __future__ import annotations

from typing import Any

import pytest

from shared import composition
from shared.core.errors import SettingsError
from shared.sources import load_settings
from tests.support.app import App

EVIL = "http://evil.example:666"


async def profiles_page(app: App, tenant: Any, **params: str) -> dict[str, Any]:
    for index in range(3):
        tenant.add_profile(f"p{index}")
    await app.poll()
    reply = await app.call(
        "list_synchronization_profiles",
        params={"$top": "1", **params},
        headers={"Host": "evil.example:666"},
        origin=EVIL,
    )
    assert reply.status == 200, reply.body
    return reply.json()


async def test_without_a_configured_origin_the_next_link_is_relative(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEBSITE_HOSTNAME")
    composition.reload_settings()
    link = (await profiles_page(app, tenant, code="KEY"))["@odata.nextLink"]
    assert link.startswith("/api/education/synchronizationProfiles?")
    assert "evil" not in link and "KEY" not in link


async def test_azures_host_name_makes_an_https_link(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBSITE_HOSTNAME", "syncstatus-abc.azurewebsites.net")
    composition.reload_settings()
    link = (await profiles_page(app, tenant, code="KEY"))["@odata.nextLink"]
    assert link.startswith("https://syncstatus-abc.azurewebsites.net/api/education/")
    assert "evil" not in link and "code=" not in link


async def test_public_base_url_wins_over_the_host_name(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBSITE_HOSTNAME", "syncstatus-abc.azurewebsites.net")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://status.contoso.com/")
    composition.reload_settings()
    link = (await profiles_page(app, tenant))["@odata.nextLink"]
    assert link.startswith("https://status.contoso.com/api/education/synchronizationProfiles?")


@pytest.mark.usefixtures("insecure_webhooks")
async def test_a_subscriptions_location_ignores_the_host_header(
    app: App, receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://status.contoso.com")
    composition.reload_settings()
    reply = await app.call(
        "create_subscription",
        method="POST",
        headers={"Content-Type": "application/json", "Host": "evil.example:666"},
        body={"notificationUrl": receiver.url},
        origin=EVIL,
    )
    assert reply.status == 201, reply.body
    subscription_id = reply.json()["id"]
    assert reply.headers["Location"] == (
        f"https://status.contoso.com/api/subscriptions/{subscription_id}"
    )


def test_loopback_host_names_are_http_as_core_tools_set_them() -> None:
    base = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    local = load_settings({**base, "WEBSITE_HOSTNAME": "localhost:7071"})
    assert local.public_base_url == "http://localhost:7071"
    assert load_settings(base).public_base_url is None


@pytest.mark.parametrize(
    "value",
    [
        "status.contoso.com",
        "https://status.contoso.com/api",
        "https://a.com?code=x",
        "javascript:x",
    ],
)
def test_public_base_url_is_an_origin_only(value: str) -> None:
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL"):
        load_settings(
            {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "PUBLIC_BASE_URL": value}
        )
