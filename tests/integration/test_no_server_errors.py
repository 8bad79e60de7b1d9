"""No input yields a 500: generated ids, bodies, headers and query strings against the real
handlers, Azurite and a cached profile. Every answer is a success or a Graph-shaped 4xx."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import composition
from tests.support.app import App
from tests.support.samples import SEED, SEED_ID

# Lone surrogates included: JSON can carry them ("\ud800") and so can a decoded URL.
ANY_CHARACTER = st.characters(exclude_categories=())
WRITABLE = [
    "status",
    "statusMessage",
    "errorCount",
    "lastActivityDateTime",
    "lastSynchronizationDateTime",
]
NAMES = st.sampled_from(
    [*WRITABLE, "id", "@odata.type", "@odata.context", "displayName"]
) | st.text(max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(ANY_CHARACTER, max_size=30)
    | st.sampled_from(["error", "extracting", "2021-07-13T20:55:17.6475128Z", SEED_ID, "*"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
BODIES = (
    st.dictionaries(NAMES, JSON, max_size=6).map(lambda body: json.dumps(body).encode())
    | JSON.map(lambda body: json.dumps(body).encode())
    | st.binary(max_size=64)
)
IDS = st.text(ANY_CHARACTER, max_size=40) | st.just(SEED_ID)
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
EXAMPLES = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
async def seeded_app(app: App, tenant: Any) -> App:
    tenant.add_profile(SEED_ID, status=dict(SEED))
    await app.poll()
    return app


def assert_answer(reply: Any) -> None:
    assert reply.status < 500, reply.body
    body = reply.json()
    if reply.status >= 400:
        assert set(body["error"]) >= {"code", "message"}


def run(app: App, call: Any) -> Any:
    """One call in its own event loop (hypothesis tests are synchronous)."""

    async def main() -> Any:
        try:
            return await call
        finally:
            await composition.close()

    return asyncio.run(main())


@EXAMPLES
@given(profile_id=IDS, body=BODIES, if_match=st.none() | HEADER_TEXT)
def test_no_patch_gives_a_server_error(
    seeded_app: App, profile_id: str, body: bytes, if_match: str | None
) -> None:
    reply = run(seeded_app, seeded_app.patch_status(profile_id, body, if_match=if_match))
    assert_answer(reply)


@EXAMPLES
@given(profile_id=IDS)
def test_no_get_gives_a_server_error(seeded_app: App, profile_id: str) -> None:
    assert_answer(run(seeded_app, seeded_app.get_status(profile_id)))


@EXAMPLES
@given(
    params=st.dictionaries(
        st.sampled_from(["status", "$top", "$skiptoken", "$filter", "other"]),
        HEADER_TEXT,
        max_size=3,
    )
)
def test_no_list_query_gives_a_server_error(seeded_app: App, params: dict[str, str]) -> None:
    assert_answer(run(seeded_app, seeded_app.list_profiles(**params)))
