"""What kind of sync a provisioning job is, from its ``templateId``, in words: every kind
of provisioning (SaaS apps, Entra Cloud Sync, cross-tenant sync, HR and API-driven inbound)
is a synchronization job on some service principal, told apart only by its template."""

from __future__ import annotations

from typing import Any

# Templates of Microsoft's own kinds of sync, by templateId.
KNOWN_TEMPLATES = {
    "AD2AADProvisioning": "Entra Cloud Sync (AD to Entra ID)",
    "AD2AADPasswordHash": "Entra Cloud Sync password hash sync",
    "AAD2ADProvisioning": "Entra Cloud Sync (Entra ID to AD)",
    "Azure2Azure": "cross-tenant synchronization",
    "API2AAD": "API-driven inbound provisioning (to Entra ID)",
    "API2AD": "API-driven inbound provisioning (to AD)",
    "Workday2AAD": "Workday inbound provisioning (to Entra ID)",
    "Workday2AD": "Workday inbound provisioning (to AD)",
    "SuccessFactors2AAD": "SuccessFactors inbound provisioning (to Entra ID)",
    "SuccessFactors2AD": "SuccessFactors inbound provisioning (to AD)",
    "scim": "SCIM app provisioning",
    "customappsso": "SCIM app provisioning",
}


def job_kind(template_id: Any) -> str:
    """The kind of sync a template makes; any other template is an app's provisioning."""
    if not isinstance(template_id, str) or not template_id:
        return "provisioning"
    return KNOWN_TEMPLATES.get(template_id, f"app provisioning ({template_id})")


def job_display_name(principal_name: str | None, job: dict[str, Any]) -> str:
    """``Dropbox Business: app provisioning (dropboxSCIM)``: the service principal's name and
    the kind of sync (the job id only when the principal's name is not known)."""
    kind = job_kind(job.get("templateId"))
    if principal_name:
        return f"{principal_name}: {kind}"
    return f"{kind[:1].upper()}{kind[1:]} ({job.get('id')})"
