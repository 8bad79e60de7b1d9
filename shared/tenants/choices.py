"""A tenant's own choices of sources, checked and applied: which sources are on and each
source's options, which are app settings of that source (``Source.tenant_options``) laid
over the app's own and read by the source's one settings reader, so a tenant's choice is
checked exactly as the same app setting would be."""

from __future__ import annotations

import dataclasses
from collections import ChainMap
from collections.abc import Mapping

from shared.core.errors import InvalidInputError, SettingsError
from shared.settings import Settings
from shared.sources import SOURCE_NAMES, SOURCES, source_named
from shared.tenants.models import SourceChoice, Tenant


def check_choices(settings: Settings, choices: Mapping[str, SourceChoice]) -> None:
    """InvalidInputError naming an unknown source, an option the source does not take, or a
    value its settings reader refuses (in the reader's own words)."""
    for name, choice in choices.items():
        if name not in SOURCE_NAMES:
            raise InvalidInputError(
                f"'{name}' is not a source; use any of: {', '.join(SOURCE_NAMES)}.",
                target=f"sources.{name}",
            )
        allowed = source_named(name).tenant_options
        for option in choice.options:
            if option not in allowed:
                takes = ", ".join(allowed) if allowed else "none"
                raise InvalidInputError(
                    f"'{option}' is not an option of {name} (it takes: {takes}).",
                    target=f"sources.{name}.options.{option}",
                )
        try:
            source_named(name).read_settings(_overlay(settings, name, choice))
        except SettingsError as error:
            raise InvalidInputError(error.message, target=f"sources.{name}.options") from None


def tenant_settings(settings: Settings, tenant: Tenant) -> Settings:
    """The app's settings for one tenant: each source's read again with the tenant's choices
    laid over the app settings (a source the tenant says nothing of is as the app's)."""
    if not tenant.sources:
        return settings
    sources = dict(settings.sources)
    for source in SOURCES:
        choice = tenant.sources.get(source.name)
        if choice is not None:
            sources[source.name] = source.read_settings(_overlay(settings, source.name, choice))
    return dataclasses.replace(settings, sources=sources)


def _overlay(settings: Settings, name: str, choice: SourceChoice) -> Mapping[str, str]:
    own: dict[str, str] = dict(choice.options)
    if choice.enabled is not None:
        own[source_named(name).enable_hint] = "true" if choice.enabled else "false"
    return ChainMap(own, dict(settings.environment))
