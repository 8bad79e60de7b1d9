"""Webhook subscriptions: who receives which changes. The models validate what a caller
sends (``POST /api/subscriptions``) and describe what the API answers."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from shared.core.changes import StatusChange
from shared.core.health import HealthField
from shared.core.incidents import Incident, NoticeKind
from shared.core.validation import parse_model

# What a subscription's receiver is POSTed: json (the event itself, as documented), or
# teamsAdaptiveCard (a Teams Workflows webhook message carrying an Adaptive Card 1.4 made
# from the event: ``shared.webhooks.teams_card``).
SubscriptionFormat = Literal["json", "teamsAdaptiveCard"]
FORMAT_DESCRIPTION = (
    "What each event is POSTed as: json (the event), or teamsAdaptiveCard (a message with an "
    'Adaptive Card 1.4, for a Teams Workflows webhook, "When a Teams webhook request is '
    'received").'
)
GROUP_DESCRIPTION = (
    "Whether the incident notices one tenant's poll made (two or more) come as one message "
    "(kind incidentGroup, or one card) instead of one each."
)


class SubscriptionFilter(BaseModel):
    """Which changes a subscription receives; each list left out (or empty) matches all.

    ``sources`` are checked against the sources the app knows where a subscription is made
    (``shared.webhooks.subscriptions``): this package knows no source by name.
    """

    model_config = ConfigDict(extra="forbid")

    health: list[HealthField] | None = Field(default=None, max_length=4)
    sources: list[StrictStr] | None = None
    ids: list[Annotated[StrictStr, Field(min_length=1, max_length=512)]] | None = Field(
        default=None, max_length=100
    )
    # change (an item's status or health changed), action (a job action was taken on it),
    # incident (an incident opened, is reminded of, or resolved). Left out: change and action,
    # as before incidents; a subscription for incidents names them.
    kinds: list[Literal["change", "action", "incident"]] | None = Field(default=None, max_length=3)
    # Which of an incident's notices (opened, reminder, resolved); left out: all of them.
    notices: list[NoticeKind] | None = Field(default=None, max_length=3)

    def matches(self, change: StatusChange) -> bool:
        return (
            (not self.health or change.health in self.health)
            and (not self.sources or change.source in self.sources)
            and (not self.ids or change.id in self.ids)
            and (not self.kinds or change.kind in self.kinds)
        )

    def matches_incident(self, incident: Incident, notice: str) -> bool:
        """Whether an incident's notice is for it: only when it names ``incident`` among
        its kinds, then of these notices, healths (the incident's worst), sources and items."""
        return (
            bool(self.kinds) and "incident" in (self.kinds or ())
            and (not self.notices or notice in self.notices)
            and (not self.health or incident.health in self.health)
            and (not self.sources or incident.source in self.sources)
            and (not self.ids or incident.itemId in self.ids)
        )  # fmt: skip


class SubscriptionRequest(BaseModel):
    """The body of ``POST /api/subscriptions``: where to POST events, and which ones."""

    model_config = ConfigDict(extra="forbid")

    notificationUrl: StrictStr = Field(
        min_length=1, max_length=2048, description="The URL each change is POSTed to."
    )
    filter: SubscriptionFilter | None = None
    format: SubscriptionFormat = Field(default="json", description=FORMAT_DESCRIPTION)
    groupIncidents: bool = Field(default=False, description=GROUP_DESCRIPTION)


class Subscription(BaseModel):
    """A webhook subscription as the API answers it."""

    id: str
    notificationUrl: str
    filter: SubscriptionFilter | None = None
    status: Literal["active", "disabled"]
    createdDateTime: str
    format: SubscriptionFormat = Field(default="json", description=FORMAT_DESCRIPTION)
    groupIncidents: bool = Field(default=False, description=GROUP_DESCRIPTION)
    disabledReason: str | None = None
    # The tenant whose changes it receives (made under /api/tenants/{tenantId}/); null: every
    # tenant's (made on the deployment-wide route).
    tenantId: str | None = None

    def receives(self, change: StatusChange) -> bool:
        """Whether a change of this tenant, kind, source, item and health is for it."""
        if self.tenantId is not None and change.tenantId != self.tenantId:
            return False
        return self.filter is None or self.filter.matches(change)

    def receives_incident(self, incident: Incident, notice: str) -> bool:
        """Whether this tenant's incident's notice is for it (it asked for incidents)."""
        if self.tenantId is not None and incident.tenantId != self.tenantId:
            return False
        return self.filter is not None and self.filter.matches_incident(incident, notice)


class IncidentFilter(BaseModel):
    """Which incidents' notices an incident subscription receives; each list left out (or
    empty) matches all."""

    model_config = ConfigDict(extra="forbid")

    notices: list[NoticeKind] | None = Field(
        default=None, max_length=3,
        description="Which notices: opened, reminder, resolved (all when left out).",
    )  # fmt: skip
    health: list[HealthField] | None = Field(
        default=None, max_length=4, description="Only incidents of these (worst) healths."
    )
    sources: list[StrictStr] | None = Field(default=None, description="Only these sources'.")
    ids: list[Annotated[StrictStr, Field(min_length=1, max_length=512)]] | None = Field(
        default=None, max_length=100, description="Only these items'."
    )


class IncidentSubscriptionRequest(BaseModel):
    """The body of ``POST /api/incidentSubscriptions`` (the connector's trigger "When an
    incident opens or resolves"): where each incident's notice is POSTed, one at a time, as
    JSON."""

    model_config = ConfigDict(extra="forbid")

    notificationUrl: StrictStr = Field(
        min_length=1, max_length=2048, description="The URL each notice is POSTed to."
    )
    filter: IncidentFilter | None = None

    def as_subscription(self) -> SubscriptionRequest:
        """The subscription it is: one whose kinds are incidents alone."""
        narrowed = self.filter.model_dump(exclude_none=True) if self.filter else {}
        return SubscriptionRequest(
            notificationUrl=self.notificationUrl,
            filter=SubscriptionFilter.model_validate({"kinds": ["incident"], **narrowed}),
        )


def static_target(url: str) -> str:
    """The delivery target (outbox key) of a NOTIFY_WEBHOOK_URLS entry: a digest, because the
    URL itself is a secret (a flow's URL carries its signature)."""
    return "url-" + hashlib.sha256(url.encode()).hexdigest()[:32]


def parse_subscription_request(body: Any, *, incidents: bool = False) -> SubscriptionRequest:
    """Validate a subscribe body (``incidents``: an incident subscription's); raise
    InvalidInputError naming the offending property."""
    if incidents:
        return parse_model(IncidentSubscriptionRequest, body).as_subscription()
    return parse_model(SubscriptionRequest, body)
