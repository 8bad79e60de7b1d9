"""An item's next steps on its page, read from its document (no I/O): Graph's
troubleshooting link, when Entra tries a quarantined job again, and where the item is in
the admin centers. Every link is https to a Microsoft host; Graph's ``troubleshootingUrl``
is untrusted and shown only when it is https and its host is microsoft.com's or aka.ms's
(or under them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from shared.core.graph_ids import unsafe_reason
from shared.core.health import in_words
from shared.core.time import parse_timestamp
from shared.http.board.rows import clock
from shared.sources.directory_synchronization.const import NAME as CONNECT
from shared.sources.industry_data_runs.const import NAME as RUNS
from shared.sources.provisioning_jobs.const import NAME as JOBS
from shared.sources.provisioning_jobs.ids import split_job_key
from shared.sources.school_data_sync.const import NAME as SDS

_TRUSTED_HOSTS = ("microsoft.com", "aka.ms")
ENTRA = "https://entra.microsoft.com/"
# Entra admin center: an enterprise application's provisioning (by its object id).
_PROVISIONING = ENTRA + "#view/Microsoft_AAD_IAM/ManagedAppMenuBlade/~/ProvisioningManagement"
_CONNECT = ENTRA + "#view/Microsoft_AAD_Connect_Provisioning/AADConnectMenuBlade/~/GetStarted"
SDS_PORTAL = "https://sds.microsoft.com/"


@dataclass(frozen=True)
class Step:
    """One next step: words, and a link (https, a Microsoft host) or none."""

    text: str
    href: str | None = None


def trusted_link(url: Any) -> str | None:
    """``url`` when it is an https link to microsoft.com, aka.ms or a host under them."""
    if not isinstance(url, str) or len(url) > 2048:
        return None
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return None
    if parts.scheme != "https" or parts.username or parts.password or not host:
        return None
    if any(host == good or host.endswith("." + good) for good in _TRUSTED_HOSTS):
        return parts.geturl()
    return None


def next_steps(source: str, item_id: str, document: Any, now: datetime) -> list[Step]:
    """The item's next steps, from its document as Graph sent it."""
    document = document if isinstance(document, dict) else {}
    if source == JOBS:
        return _job_steps(item_id, document, now)
    if source == CONNECT:
        return [Step("Entra Connect in the Entra admin center", _CONNECT)]
    if source in (SDS, RUNS):
        return [Step("School Data Sync", SDS_PORTAL)]
    return []


def _job_steps(item_id: str, job: dict[str, Any], now: datetime) -> list[Step]:
    steps = []
    status = job.get("status") if isinstance(job.get("status"), dict) else {}
    quarantine = status.get("quarantine") if isinstance(status.get("quarantine"), dict) else {}
    retry = _retry_words(quarantine.get("nextAttempt"), now)
    if retry:
        steps.append(Step(retry))
    troubleshooting = trusted_link(status.get("troubleshootingUrl"))
    if troubleshooting:
        steps.append(Step("Graph's troubleshooting guide", troubleshooting))
    principal, _job = split_job_key(item_id)
    if principal and unsafe_reason(principal) is None:
        steps.append(
            Step(
                "The app's provisioning in the Entra admin center",
                f"{_PROVISIONING}/objectId/{quote(principal, safe='')}",
            )
        )
    return steps


def _retry_words(moment: Any, now: datetime) -> str | None:
    """``Entra retries at 14:00 UTC, in 9 h 12 min`` (quarantine's nextAttempt)."""
    if not isinstance(moment, str) or not moment:
        return None
    try:
        at = parse_timestamp(moment)
    except ValueError:
        return None
    if at <= now:
        return f"Entra was due to retry at {clock(at, now)}"
    return f"Entra retries at {clock(at, now)}, in {in_words(at - now)}"
