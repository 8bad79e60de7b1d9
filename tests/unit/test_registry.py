"""The registry of sources is the one list: what the README and the deployment say of the
sources is checked against it, and every source fulfils the contract the app relies on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.sources import SOURCE_NAMES, SOURCES, source_named
from shared.sources.base import Source

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
GRANT_SCRIPT = (ROOT / "infra" / "scripts" / "grant-graph-permissions.sh").read_text()


def readme_table(heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table after a README heading."""
    section = README.split(f"\n{heading}\n", 1)[1]
    rows = []
    for line in section.splitlines():
        if rows and not line.startswith("|"):
            break
        if line.startswith("|") and not line.startswith("| ---"):
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows[1:]  # without the header


def test_names_are_unique_and_sources_are_found_by_name() -> None:
    assert len(set(SOURCE_NAMES)) == len(SOURCES)
    for source in SOURCES:
        assert source_named(source.name) is source


def test_the_readme_lists_every_source_with_its_permission() -> None:
    rows = readme_table("## Sources")
    assert [row[0].split("`")[1] for row in rows] == list(SOURCE_NAMES)
    assert [row[-1].strip("`") for row in rows] == [source.permission for source in SOURCES]


def test_the_grant_script_knows_every_sources_permission() -> None:
    roles = set(re.findall(r'^readonly ROLE_\w+="([^"]+)"', GRANT_SCRIPT, re.MULTILINE))
    needed = {source.permission for source in SOURCES}
    needed |= {permission for source in SOURCES for permission, _when in source.extra_permissions}
    assert roles == needed


@pytest.mark.parametrize("source", SOURCES, ids=SOURCE_NAMES)
def test_a_source_fulfils_the_contract(source: Source) -> None:
    rules = source.health_rules
    assert rules and all(rule.source == source.name for rule in rules)
    assert source.title and source.permission
    # Switched on by a setting the deployment reads (the grant script follows it too).
    switch = source.enable_hint.split()[0]
    assert switch.endswith("_ENABLED") and switch in GRANT_SCRIPT
    assert source.read_settings({switch: "false"}).enabled is False
    operations = source.operations()
    assert operations and len({op.name for op in operations}) == len(operations)
    assert source.item_path("an-id").startswith("/api/")
    part = source.openapi()
    assert part.models and part.paths()


def test_operation_names_are_unique_across_the_app() -> None:
    from shared.http.routes import api_operations

    names = [operation.name for operation in api_operations()]
    assert len(names) == len(set(names))
