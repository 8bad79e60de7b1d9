"""The sources the app monitors, listed once. Everything else (the poll engine, the status
list, health, history, webhooks, the routes and the OpenAPI document, the settings) works
from this list; what is specific to one source lives in its own folder beside this file.

To add a source: write its folder (see ``base.Source``) and add it to ``SOURCES``.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.core.errors import InvalidInputError
from shared.core.health import HealthRule
from shared.settings import Settings
from shared.sources.base import Source
from shared.sources.directory_synchronization import DirectorySynchronization
from shared.sources.industry_data_runs import IndustryDataRuns
from shared.sources.provisioning_jobs import ProvisioningJobs
from shared.sources.school_data_sync import SchoolDataSync

SOURCES: tuple[Source, ...] = (
    SchoolDataSync(),
    ProvisioningJobs(),
    DirectorySynchronization(),
    IndustryDataRuns(),
)

SOURCE_NAMES: tuple[str, ...] = tuple(source.name for source in SOURCES)
_BY_NAME: dict[str, Source] = {source.name: source for source in SOURCES}

# Every source's health mapping, in the order the README's table shows it.
HEALTH_RULES: tuple[HealthRule, ...] = tuple(rule for s in SOURCES for rule in s.health_rules)


def source_named(name: str) -> Source:
    """The source called ``name``; InvalidInputError naming the sources otherwise."""
    source = _BY_NAME.get(name)
    if source is None:
        raise InvalidInputError(f"'{name}' is not a source; use one of: {', '.join(SOURCE_NAMES)}.")
    return source


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The app's settings with every source's own (from the environment by default)."""
    return Settings.from_env(env, sources=SOURCES)
