"""The app's settings: read once from the environment, validated, with errors naming the setting.

Azure Functions exposes app settings (and, locally, ``local.settings.json`` Values) as
environment variables, so the environment is the only source read here. The settings of one
source (its switch and its own options) are read by that source, with the readers of
``shared.core.env``;
``Settings.from_env`` asks each source it is given.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from shared.core.env import OBJECT_ID, choice, flag, number, object_ids, text
from shared.core.errors import SettingsError
from shared.core.incidents import IncidentRules
from shared.core.schedule import shortest_interval, validate_schedule
from shared.core.urlguard import WebhookUrlError, check_url_form

DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com"
DEFAULT_POLL_SCHEDULE = "0 */5 * * * *"
DEFAULT_TABLE_PREFIX = "SyncStatus"
DEFAULT_GRAPH_MAX_CONCURRENCY = 16
DEFAULT_GRAPH_TIMEOUT_SECONDS = 30.0
DEFAULT_HISTORY_RETENTION_DAYS = 90
# A Graph listing longer than this many pages is cut off (an endless chain of nextLinks).
DEFAULT_GRAPH_MAX_PAGES = 1000
# An error opens an incident at once, a warning once it has held 15 minutes (three polls);
# an incident resolves once its item has been healthy 10 minutes; a reminder once a day.
DEFAULT_INCIDENT_RULES = IncidentRules(
    open_after_error_minutes=0.0,
    open_after_warning_minutes=15.0,
    resolve_after_minutes=10.0,
    remind_every_hours=24.0,
)
# A poll reads Graph for at most this share of the schedule's shortest interval, so the next
# timer run is never starved (the rest is left for writing what it read).
POLL_DEADLINE_SHARE = 0.8

# Table names are 3-63 alphanumerics starting with a letter; the longest suffix the app adds
# is "Subscriptions" (13 characters), so the prefix may use the rest.
_TABLE_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9]{0,49}")


class SourceSettings(Protocol):
    """What every source's settings say: whether a poll reads the source."""

    @property
    def enabled(self) -> bool: ...


class SourceSettingsReader(Protocol):
    """A source, as far as settings go: its name, how to switch it on, and its reader."""

    @property
    def name(self) -> str: ...

    @property
    def enable_hint(self) -> str: ...

    def read_settings(self, env: Mapping[str, str]) -> SourceSettings: ...


@dataclass(frozen=True)
class StorageSettings:
    """Where the status tables live: a connection string, or an endpoint and an identity."""

    connection_string: str | None = None
    table_service_uri: str | None = None
    # The queue endpoint of an identity-based connection (the round's messages).
    queue_service_uri: str | None = None
    # For identity-based connections (AzureWebJobsStorage__credential=managedidentity).
    use_managed_identity: bool = False
    client_id: str | None = None


@dataclass(frozen=True)
class Settings:
    storage: StorageSettings
    graph_base_url: str = DEFAULT_GRAPH_BASE_URL
    # How the app gets Graph tokens: azure (DefaultAzureCredential: the home tenant only),
    # federated (the managed identity as a federated credential of a multi-tenant app, a
    # token per tenant), simulated (an unsigned token naming the tenant: the simulated
    # tenant only), none (no token).
    graph_auth: Literal["azure", "federated", "simulated", "none"] = "azure"
    # The multi-tenant app registration whose federated credential is the managed identity.
    graph_app_client_id: str | None = None
    # The user-assigned managed identity's client id (AZURE_CLIENT_ID), for its tokens.
    managed_identity_client_id: str | None = None
    # The tenant the deployment lives in (HOME_TENANT_ID): the first
    # tenant, whose rows keep today's keys. None: not said (it is then called "home").
    home_tenant_id: str | None = None
    poll_schedule: str = DEFAULT_POLL_SCHEDULE
    table_prefix: str = DEFAULT_TABLE_PREFIX
    graph_max_concurrency: int = DEFAULT_GRAPH_MAX_CONCURRENCY
    graph_timeout_seconds: float = DEFAULT_GRAPH_TIMEOUT_SECONDS
    history_retention_days: int = DEFAULT_HISTORY_RETENTION_DAYS
    # When an incident opens, resolves and is reminded of (INCIDENT_* settings).
    incident_rules: IncidentRules = DEFAULT_INCIDENT_RULES
    graph_max_pages: int = DEFAULT_GRAPH_MAX_PAGES
    # Seconds a poll may spend reading Graph (POLL_DEADLINE_SECONDS, or a share of the
    # schedule's interval).
    poll_deadline_seconds: float = 240.0
    # The round's queues: one message per tenant to poll (POLL_QUEUE_NAME), one per
    # receiver with events waiting (DELIVERY_QUEUE_NAME); the queue triggers name them too.
    poll_queue: str = "syncstatus-polls"
    delivery_queue: str = "syncstatus-deliveries"
    # Seconds over which a round's messages are spread (POLL_SPREAD_SECONDS), so Graph and
    # storage see an even load; None: half a second per tenant, at most 30% of the interval.
    poll_spread_seconds: float | None = None
    # The origin links the app builds start with (PUBLIC_BASE_URL, or https://WEBSITE_HOSTNAME);
    # None: links are relative. Never the request's Host header.
    public_base_url: str | None = None
    # Webhooks every change is POSTed to, besides the subscriptions made through the API.
    notify_webhook_urls: tuple[str, ...] = ()
    # Lets webhooks use http and private or loopback addresses: local runs and tests only.
    allow_insecure_webhooks: bool = False
    # The board behind App Service Authentication: the platform signs people in (and says
    # so in WEBSITE_AUTH_ENABLED); the app checks the principal and, if set, its group.
    board_sign_in: bool = False
    platform_sign_in: bool = False
    # BOARD_ALLOWED_GROUP_ID: a signed-in person must be in one of these groups (none: any).
    board_allowed_groups: tuple[str, ...] = ()
    # Each source's own settings, by source name, in the order the sources are listed.
    sources: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # The app settings these were read from: what a tenant's own choices are laid over
    # (``shared.tenants``). Not compared, not printed.
    environment: Mapping[str, str] = field(
        default_factory=dict, hash=False, compare=False, repr=False
    )

    @property
    def enabled_sources(self) -> tuple[str, ...]:
        """The sources a poll reads, in the order it reads them."""
        return tuple(name for name, settings in self.sources.items() if settings.enabled)

    def source(self, name: str) -> Any:
        """The settings of one source (its own dataclass, from its folder)."""
        return self.sources[name]

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, sources: Sequence[SourceSettingsReader]
    ) -> Settings:
        """Build settings from app settings (environment variables); raise SettingsError."""
        env = os.environ if env is None else env
        own = {source.name: source.read_settings(env) for source in sources}
        insecure = flag(env, "ALLOW_INSECURE_WEBHOOKS", default=False)
        schedule = _schedule(env)
        prefix = _table_prefix(env)
        settings = cls(
            storage=_storage_settings(env),
            graph_base_url=_graph_base_url(env),
            graph_auth=choice(env, "GRAPH_AUTH", GRAPH_AUTHS, "azure"),  # type: ignore[arg-type]
            graph_app_client_id=_graph_app_client_id(env),
            managed_identity_client_id=env.get("AZURE_CLIENT_ID", "").strip() or None,
            home_tenant_id=_home_tenant_id(env),
            poll_schedule=schedule,
            table_prefix=prefix,
            graph_max_concurrency=int(
                number(env, "GRAPH_MAX_CONCURRENCY", DEFAULT_GRAPH_MAX_CONCURRENCY, 1, 256)
            ),
            graph_timeout_seconds=number(
                env, "GRAPH_TIMEOUT_SECONDS", DEFAULT_GRAPH_TIMEOUT_SECONDS, 1, 600
            ),
            history_retention_days=int(
                number(env, "HISTORY_RETENTION_DAYS", DEFAULT_HISTORY_RETENTION_DAYS, 1, 3650)
            ),
            graph_max_pages=int(number(env, "GRAPH_MAX_PAGES", DEFAULT_GRAPH_MAX_PAGES, 1, 100000)),
            incident_rules=_incident_rules(env),
            poll_deadline_seconds=_poll_deadline(env, schedule),
            poll_queue=_queue_name(env, "POLL_QUEUE_NAME", queue_names(prefix)[0]),
            delivery_queue=_queue_name(env, "DELIVERY_QUEUE_NAME", queue_names(prefix)[1]),
            poll_spread_seconds=_poll_spread(env, schedule),
            public_base_url=_public_base_url(env),
            notify_webhook_urls=_webhook_urls(env, insecure),
            allow_insecure_webhooks=insecure,
            board_sign_in=board_sign_in(env),
            platform_sign_in=flag(env, "WEBSITE_AUTH_ENABLED", default=False),
            board_allowed_groups=object_ids(env, "BOARD_ALLOWED_GROUP_ID", "group"),
            sources=own,
            environment=dict(env),
        )
        if not settings.enabled_sources:
            hints = [source.enable_hint for source in sources]
            named = ", ".join(hints[:-1]) + " or " + hints[-1] if len(hints) > 1 else "".join(hints)
            raise SettingsError(f"No source is enabled: set {named} to true.")
        return settings


GRAPH_AUTHS = ("azure", "federated", "simulated", "none")


# -- the app's own settings -----------------------------------------------------------------------


def board_sign_in(env: Mapping[str, str]) -> bool:
    """BOARD_SIGN_IN_ENABLED: the board is for people signed in through App Service
    Authentication (its route is then anonymous to the host; the app checks the sign-in)
    rather than for holders of a function key. The HTTP functions read it as they register."""
    return flag(env, "BOARD_SIGN_IN_ENABLED", default=False)


def _webhook_urls(env: Mapping[str, str], insecure: bool) -> tuple[str, ...]:
    """NOTIFY_WEBHOOK_URLS: comma-separated https URLs (a Teams workflow's or a flow's "When
    an HTTP request is received" URL). Their addresses are checked again at each delivery."""
    urls: list[str] = []
    for part in env.get("NOTIFY_WEBHOOK_URLS", "").split(","):
        url = part.strip()
        if not url:
            continue
        try:
            check_url_form(url, allow_insecure=insecure)
        except WebhookUrlError as error:
            # The URL itself may carry a secret (a flow's sig=...): name only its host.
            raise SettingsError(
                f"NOTIFY_WEBHOOK_URLS holds a URL that cannot be used: {error}"
            ) from None
        urls.append(url)
    return tuple(dict.fromkeys(urls))


def _schedule(env: Mapping[str, str]) -> str:
    value = text(env, "POLL_SCHEDULE", DEFAULT_POLL_SCHEDULE)
    try:
        validate_schedule(value)
    except ValueError:
        raise SettingsError(
            "POLL_SCHEDULE must be an NCRONTAB expression with six fields, seconds first "
            f"(for example '{DEFAULT_POLL_SCHEDULE}'); got {value!r}."
        ) from None
    return value


def _poll_deadline(env: Mapping[str, str], schedule: str) -> float:
    """POLL_DEADLINE_SECONDS, or 80% of the schedule's shortest interval: a poll that reads
    Graph longer (a slow tenant, an endless listing) stops reading, records what it has and
    leaves the next run its turn."""
    derived = round(shortest_interval(schedule) * POLL_DEADLINE_SHARE, 1)
    return number(env, "POLL_DEADLINE_SECONDS", max(derived, 1.0), 1, 86400)


# A Storage queue's name: 3 to 63 lower-case letters, digits and single hyphens.
_QUEUE_NAME = re.compile(r"(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]")
# The share of the schedule's shortest interval a round's messages are spread over at most.
POLL_SPREAD_SHARE = 0.3


def _incident_rules(env: Mapping[str, str]) -> IncidentRules:
    """INCIDENT_OPEN_AFTER_MINUTES (``error=0,warning=15``, or one number for both),
    INCIDENT_RESOLVE_AFTER_MINUTES and INCIDENT_REMIND_EVERY_HOURS (0: no reminders)."""
    name = "INCIDENT_OPEN_AFTER_MINUTES"
    defaults = DEFAULT_INCIDENT_RULES
    opening = {"error": defaults.open_after_error_minutes,
               "warning": defaults.open_after_warning_minutes}  # fmt: skip
    for part in (part.strip() for part in text(env, name, "").split(",")):
        if not part:
            continue
        health, _, minutes = part.rpartition("=")
        healths = [health.strip().lower()] if health else list(opening)
        if any(one not in opening for one in healths):
            raise SettingsError(f"{name} names warning and error only; got {part!r}.")
        for one in healths:
            opening[one] = number({name: minutes}, name, 0, 0, 10080)
    return IncidentRules(
        open_after_error_minutes=opening["error"],
        open_after_warning_minutes=opening["warning"],
        resolve_after_minutes=number(
            env, "INCIDENT_RESOLVE_AFTER_MINUTES",
            DEFAULT_INCIDENT_RULES.resolve_after_minutes, 0, 10080,
        ),
        remind_every_hours=number(
            env, "INCIDENT_REMIND_EVERY_HOURS", DEFAULT_INCIDENT_RULES.remind_every_hours, 0, 720
        ),
    )  # fmt: skip


def queue_names(table_prefix: str) -> tuple[str, str]:
    """The poll and delivery queues' names unless POLL_QUEUE_NAME / DELIVERY_QUEUE_NAME say
    otherwise: the table prefix's, so that deployments sharing an account keep apart."""
    return f"{table_prefix.lower()}-polls", f"{table_prefix.lower()}-deliveries"


def _queue_name(env: Mapping[str, str], name: str, default: str) -> str:
    value = text(env, name, default)
    if not _QUEUE_NAME.fullmatch(value):
        raise SettingsError(
            f"{name} must be a Storage queue name (3 to 63 lower-case letters, digits and "
            f"single hyphens, starting and ending with a letter or digit); got {value!r}."
        )
    return value


def _poll_spread(env: Mapping[str, str], schedule: str) -> float | None:
    """POLL_SPREAD_SECONDS, at most 30% of the schedule's shortest interval (None: derived
    from the number of tenants at each round)."""
    most = round(shortest_interval(schedule) * POLL_SPREAD_SHARE, 1)
    if not env.get("POLL_SPREAD_SECONDS", "").strip():
        return None
    return number(env, "POLL_SPREAD_SECONDS", 0, 0, max(most, 0.0))


# A host name (or bracketed IPv6 address) with an optional port: WEBSITE_HOSTNAME's form.
_HOST_AND_PORT = r"(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"
_LOOPBACK_HOST = re.compile(r"(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?", re.IGNORECASE)


def _public_base_url(env: Mapping[str, str]) -> str | None:
    """Where callers reach the app: PUBLIC_BASE_URL (a custom domain, a gateway), else the
    host Azure names in WEBSITE_HOSTNAME (https; http for a loopback name, as Core Tools and
    the local host set it), else None (links stay relative)."""
    value = text(env, "PUBLIC_BASE_URL", "").rstrip("/")
    if value:
        if not re.fullmatch(rf"https?://{_HOST_AND_PORT}", value):
            raise SettingsError(
                "PUBLIC_BASE_URL must be an origin such as https://syncstatus.contoso.com "
                f"(scheme, host and port only); got {value!r}."
            )
        return value
    host = text(env, "WEBSITE_HOSTNAME", "")
    if not host or not re.fullmatch(_HOST_AND_PORT, host):
        return None
    scheme = "http" if _LOOPBACK_HOST.fullmatch(host) else "https"
    return f"{scheme}://{host}"


def _graph_base_url(env: Mapping[str, str]) -> str:
    value = text(env, "GRAPH_BASE_URL", DEFAULT_GRAPH_BASE_URL).rstrip("/")
    if not re.fullmatch(r"https?://[^/\s]+(/[^\s]*)?", value):
        raise SettingsError(f"GRAPH_BASE_URL must be an http(s) URL; got {value!r}.")
    if re.search(r"/(beta|v1\.0)$", value):
        raise SettingsError(
            "GRAPH_BASE_URL is the Graph root without a version (for example "
            f"{DEFAULT_GRAPH_BASE_URL}); the app adds /beta or /v1.0. Got {value!r}."
        )
    return value


def _graph_app_client_id(env: Mapping[str, str]) -> str | None:
    """GRAPH_APP_CLIENT_ID: a GUID, and needed with GRAPH_AUTH=federated."""
    value = env.get("GRAPH_APP_CLIENT_ID", "").strip().lower() or None
    if value is not None and not OBJECT_ID.fullmatch(value):
        raise SettingsError(
            f"GRAPH_APP_CLIENT_ID must be an application (client) id, a GUID; got {value!r}."
        )
    if value is None and env.get("GRAPH_AUTH", "").strip().lower() == "federated":
        raise SettingsError(
            "GRAPH_AUTH=federated needs GRAPH_APP_CLIENT_ID: the client id of the multi-tenant "
            "app registration whose federated credential is the app's managed identity."
        )
    return value


def _home_tenant_id(env: Mapping[str, str]) -> str | None:
    """HOME_TENANT_ID: the deployment's own tenant (the deployment sets it)."""
    value = env.get("HOME_TENANT_ID", "").strip().lower()
    if value and not OBJECT_ID.fullmatch(value):
        raise SettingsError(f"HOME_TENANT_ID must be a tenant id, a GUID; got {value!r}.")
    return value or None


def _table_prefix(env: Mapping[str, str]) -> str:
    value = text(env, "STATUS_TABLE_PREFIX", DEFAULT_TABLE_PREFIX)
    if not _TABLE_PREFIX.fullmatch(value):
        raise SettingsError(
            "STATUS_TABLE_PREFIX must start with a letter and hold only letters and digits "
            f"(at most 50); got {value!r}."
        )
    return value


def _storage_settings(env: Mapping[str, str]) -> StorageSettings:
    """AzureWebJobsStorage as a connection string, or its identity-based ``__`` form."""
    connection_string = env.get("AzureWebJobsStorage", "").strip()
    if connection_string:
        return StorageSettings(connection_string=connection_string)
    uri = env.get("AzureWebJobsStorage__tableServiceUri", "").strip()
    account = env.get("AzureWebJobsStorage__accountName", "").strip()
    if not uri and account:
        uri = f"https://{account}.table.core.windows.net"
    if not uri:
        raise SettingsError(
            "AzureWebJobsStorage is not set: give a connection string (locally "
            "UseDevelopmentStorage=true) or AzureWebJobsStorage__tableServiceUri / "
            "AzureWebJobsStorage__accountName for an identity-based connection."
        )
    credential = env.get("AzureWebJobsStorage__credential", "").strip().lower()
    queues = env.get("AzureWebJobsStorage__queueServiceUri", "").strip()
    if not queues and account:
        queues = f"https://{account}.queue.core.windows.net"
    return StorageSettings(
        table_service_uri=uri.rstrip("/"),
        queue_service_uri=queues.rstrip("/") or None,
        use_managed_identity=credential == "managedidentity",
        client_id=env.get("AzureWebJobsStorage__clientId", "").strip() or None,
    )
