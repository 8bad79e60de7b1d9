"""The settings of provisioning jobs: which service principals' jobs are polled (all those
that have jobs, found by discovery, unless an admin names them), how often discovery runs,
when a silent job counts as stalled, whether the provisioning logs are read, and whether
(and how often) jobs may be acted on through the API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.core.env import flag, number, object_ids

ENABLE_SETTING = "PROVISIONING_JOBS_ENABLED"
SERVICE_PRINCIPALS_SETTING = "PROVISIONING_SERVICE_PRINCIPAL_IDS"
DISCOVERY_INTERVAL_SETTING = "PROVISIONING_DISCOVERY_INTERVAL_HOURS"
STALL_AFTER_SETTING = "PROVISIONING_STALL_AFTER_HOURS"
LOGS_SETTING = "PROVISIONING_LOGS_ENABLED"
ACTIONS_SETTING = "PROVISIONING_ACTIONS_ENABLED"
ACTION_COOLDOWN_SETTING = "PROVISIONING_ACTION_COOLDOWN_SECONDS"
FORCE_DELETES_SETTING = "PROVISIONING_ALLOW_FORCE_DELETES"
# PROVISIONING_SERVICE_PRINCIPAL_IDS's value (and its default) for "find them".
AUTO = "auto"


@dataclass(frozen=True)
class ProvisioningJobsSettings:
    enabled: bool = True
    # Object ids of the service principals whose jobs are polled (lower-case, once each);
    # empty when they are discovered.
    service_principal_ids: tuple[str, ...] = ()
    discovery_interval_hours: float = 24.0
    # An Active job with no successful cycle for this long is an error (cycles: 40 min).
    stall_after_hours: float = 24.0
    # Read failures from the provisioning logs (AuditLog.Read.All, Entra ID P1).
    logs_enabled: bool = False
    # Restart, pause and start jobs through the API (Synchronization.ReadWrite.All).
    actions_enabled: bool = False
    # At most one action per job this often.
    action_cooldown_seconds: int = 60
    # Whether a restart may ask for ForceDeletes (deletions past the accidental-deletion limit).
    allow_force_deletes: bool = False

    @property
    def discovers(self) -> bool:
        return not self.service_principal_ids


def read_settings(env: Mapping[str, str]) -> ProvisioningJobsSettings:
    """On by default, discovering every service principal that has jobs; explicit object ids
    (comma-separated) poll only those."""
    named = env.get(SERVICE_PRINCIPALS_SETTING, "").strip()
    auto = named.lower() in ("", AUTO)
    ids = () if auto else object_ids(env, SERVICE_PRINCIPALS_SETTING, "service principal")
    return ProvisioningJobsSettings(
        enabled=flag(env, ENABLE_SETTING, default=True),
        service_principal_ids=ids,
        discovery_interval_hours=number(env, DISCOVERY_INTERVAL_SETTING, 24, 1, 24 * 30),
        stall_after_hours=number(env, STALL_AFTER_SETTING, 24, 1, 24 * 30),
        logs_enabled=flag(env, LOGS_SETTING, default=False),
        actions_enabled=flag(env, ACTIONS_SETTING, default=False),
        action_cooldown_seconds=int(number(env, ACTION_COOLDOWN_SETTING, 60, 1, 86_400)),
        allow_force_deletes=flag(env, FORCE_DELETES_SETTING, default=False),
    )
