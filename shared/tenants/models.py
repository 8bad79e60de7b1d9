"""What the registry keeps of a tenant and what a caller may send: its id (a GUID), display
name, whether it is polled, which sources are on for it and their options (each an app
setting of that source's, laid over the app's own), when it was added, and its consent
state after the last poll. Sources and options are checked against the registry of sources
where a tenant is added or changed (``registry``): this module knows no source by name."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    field_validator,
)

from shared.core.errors import InvalidInputError
from shared.core.tenancy import TENANT_ID

ConsentStateName = Literal["unknown", "consented", "consentNeeded", "unavailable"]


class SourceChoice(BaseModel):
    """One source for one tenant: on or off (left out: as the app settings say), and the
    source's own settings for this tenant (app setting name to value)."""

    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool | None = Field(default=None, description="Poll this source here.")
    options: dict[StrictStr, StrictStr] = Field(
        default_factory=dict,
        max_length=20,
        description="The source's app settings for this tenant.",
    )


class Consent(BaseModel):
    """Whether the app may read the tenant, as the last poll found: ``consented``,
    ``consentNeeded`` (Entra or Graph refused: an admin of the tenant must consent), or
    ``unavailable`` (the tenant or the app's credential failed), with Entra's or Graph's
    code; ``unknown`` before the first poll."""

    state: ConsentStateName = "unknown"
    code: str | None = None
    message: str | None = None
    # When the poll found it so (the state's first sighting).
    changedDateTime: str | None = None


class PollFailure(BaseModel):
    """A poll of the tenant that failed on every try a round gave it (its queue message went
    to the poison queue): what it failed with. Cleared by the next poll that ends."""

    code: str
    message: str
    failedDateTime: str
    roundId: str | None = None
    attempts: int = 1


class Tenant(BaseModel):
    """A tenant as the registry keeps it and the API answers it."""

    tenantId: str
    displayName: str
    enabled: bool = True
    sources: dict[str, SourceChoice] = Field(default_factory=dict)
    addedDateTime: str | None = None
    consent: Consent = Field(default_factory=Consent)
    pollFailure: PollFailure | None = None
    # Entra groups (object ids) whose signed-in members may see this tenant (behind App
    # Service Authentication): an MSP's technicians per customer.
    groups: list[str] = Field(default_factory=list)
    # The deployment's own tenant (not stored until changed; never deleted).
    home: bool = False


class TenantRequest(BaseModel):
    """The body of ``POST /api/tenants``."""

    model_config = ConfigDict(extra="forbid")

    tenantId: StrictStr = Field(description="The tenant's id (a GUID).")
    displayName: StrictStr = Field(min_length=1, max_length=256)
    enabled: StrictBool = True
    sources: dict[StrictStr, SourceChoice] = Field(default_factory=dict, max_length=20)
    groups: list[StrictStr] = Field(default_factory=list, max_length=50)


class TenantChange(BaseModel):
    """The body of ``PATCH /api/tenants/{tenantId}``: what is given changes; a source given
    replaces that source's choice."""

    model_config = ConfigDict(extra="forbid")

    displayName: StrictStr | None = Field(default=None, min_length=1, max_length=256)
    enabled: StrictBool | None = None
    sources: dict[StrictStr, SourceChoice] | None = Field(default=None, max_length=20)
    groups: list[StrictStr] | None = Field(default=None, max_length=50)

    @field_validator("displayName", "enabled", "groups", mode="before")
    @classmethod
    def _given_not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null (leave it out to keep it)")
        return value


def tenant_id_of(raw: str, *, target: str = "tenantId") -> str:
    """A caller's tenant id, lower case; InvalidInputError unless it is a GUID."""
    value = raw.strip().lower() if isinstance(raw, str) else ""
    if not TENANT_ID.fullmatch(value):
        raise InvalidInputError(f"'{raw}' is not a tenant id (a GUID).", target=target)
    return value


def group_ids_of(raw: list[str]) -> list[str]:
    """Group object ids, lower case, once each; InvalidInputError unless each is a GUID."""
    ids = []
    for index, value in enumerate(raw):
        if not TENANT_ID.fullmatch(value.strip().lower()):
            raise InvalidInputError(
                f"'{value}' is not a group's object id (a GUID).", target=f"groups.{index}"
            )
        ids.append(value.strip().lower())
    return list(dict.fromkeys(ids))
