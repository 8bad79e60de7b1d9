#!/usr/bin/env bash
# Creates or updates the multi-tenant app registration that SyncStatus reads other tenants with
# (GRAPH_AUTH=federated): sign-in audience AzureADMultipleOrgs, the Microsoft Graph application
# permissions its sources need, and a federated identity credential whose subject is the function
# app's user-assigned managed identity, so the app gets a token of this app in any tenant that
# consented, with no secret anywhere. See usage() below.
#
# Why a script and not Bicep: the Microsoft Graph Bicep extension could declare the application
# (Microsoft.Graph/applications, keyed by uniqueName) and its federated identity credential, and
# pycep (tests/unit/test_infra.py) parses `extension microsoftGraphV1`; but then every
# `azd provision` would need Entra ID rights (registering applications) on top of Azure RBAC, and
# fail for a subscription owner or pipeline without them, where today it needs neither; the
# extension comes from a registry (bicepconfig.json, br:...), where these templates are local
# files checked offline; and an app registration outlives `azd down` and may serve several
# environments. Like grant-graph-permissions.sh, it is one step, run once by someone with the
# Entra ID rights, and safe to run again.
set -euo pipefail

# The pieces the scripts share (bash alone finds the directory: no dirname on a minimal PATH).
case "${BASH_SOURCE[0]}" in */*) lib="${BASH_SOURCE[0]%/*}/lib" ;; *) lib=lib ;; esac
# shellcheck source=SCRIPTDIR/lib/graph-permissions.sh
source "$lib/graph-permissions.sh"

readonly LOGIN="https://login.microsoftonline.com"
readonly SIGN_IN_AUDIENCE="AzureADMultipleOrgs"
# The audience of the managed identity's token that the federated credential accepts (the app
# asks for it: shared/graph/credentials.py, TOKEN_EXCHANGE_SCOPE).
readonly TOKEN_EXCHANGE_AUDIENCE="api://AzureADTokenExchange"

# azd outputs of infra/main.bicep, and azd variables of infra/main.parameters.json.
readonly AZD_PRINCIPAL_ID="API_IDENTITY_PRINCIPAL_ID"
readonly AZD_CLIENT_ID="API_IDENTITY_CLIENT_ID"
readonly AZD_TENANT_ID="AZURE_TENANT_ID"
readonly AZD_APP_NAME="AZURE_FUNCTION_APP_NAME"
readonly AZD_APP_URL="AZURE_FUNCTION_APP_URL"
readonly AZD_GRAPH_APP_CLIENT_ID="GRAPH_APP_CLIENT_ID"
readonly AZD_GRAPH_AUTH="GRAPH_AUTH"

# Source -> the application permissions it needs (shared/sources: each source's permission, and
# extra_permissions for the configurations that need more), as grant-graph-permissions.sh.
# Reading needs read-only permissions; only the provisioning job actions need a ReadWrite one.
# The flags and which permissions they choose are lib/graph-permissions.sh's; the values stay
# here and in grant-graph-permissions.sh, whose text tests/unit/test_registry.py reads
# (tests/unit/test_infra_tenants.py checks that the two agree).
readonly ROLE_SDS="EduAdministration.Read.All"          # School Data Sync profiles and their status
readonly ROLE_PROVISIONING="Synchronization.Read.All"   # Entra ID provisioning (synchronization) jobs
readonly ROLE_DISCOVERY="Application.Read.All"          # provisioning: listing service principals (discovery)
readonly ROLE_PROVISIONING_LOGS="AuditLog.Read.All"     # provisioning: the provisioning logs (Entra ID P1)
readonly ROLE_PROVISIONING_ACTIONS="Synchronization.ReadWrite.All" # provisioning: job actions
readonly ROLE_DIRECTORY_SYNC="Organization.Read.All"    # Entra Connect: the organization's last sync times
readonly ROLE_INDUSTRY_DATA="IndustryData-Run.Read.All" # Industry Data runs

readonly UNIQUE_NAME_RE='^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'
readonly REDIRECT_RE='^https://[^[:space:]"\\]+$'

usage() {
    cat <<EOF
Usage: $prog [options]

Creates or updates the multi-tenant app registration of SyncStatus (GRAPH_AUTH=federated):
  - sign-in audience $SIGN_IN_AUDIENCE (any organization's tenant can consent to it);
  - the Microsoft Graph application permissions the chosen sources need, and nothing else
    (looked up by value in the appRoles of Microsoft Graph, appId $GRAPH_APP_ID);
  - a federated identity credential trusting the function app's managed identity:
      issuer    $LOGIN/<home tenant id>/v2.0
      subject   the managed identity's principal (object) id
      audiences $TOKEN_EXCHANGE_AUDIENCE
  - a web redirect URI (the function app's URL), where Entra sends an administrator after the
    admin consent (the app reads nothing there).
Then it prints the app's client id and the azd commands that point the deployment at it.
Running it again changes only what differs: one app, one credential per identity.

Permissions (the sources any tenant may poll; any of these flags replaces the default):
  --sds                 $ROLE_SDS  School Data Sync (classic) profiles
  --provisioning        $ROLE_PROVISIONING    Entra ID provisioning jobs of every service
                        + $ROLE_DISCOVERY      principal that has them (discovery)
  --provisioning-named  $ROLE_PROVISIONING    provisioning jobs of named service principals
                                                    only (every tenant sets
                                                    PROVISIONING_SERVICE_PRINCIPAL_IDS)
  --directory-sync      $ROLE_DIRECTORY_SYNC       Entra Connect directory synchronization
  --industry-data       $ROLE_INDUSTRY_DATA   Industry Data runs
Default: all four sources, provisioning jobs with discovery, read-only:
  $ROLE_SDS, $ROLE_PROVISIONING, $ROLE_DISCOVERY,
  $ROLE_DIRECTORY_SYNC, $ROLE_INDUSTRY_DATA.
Added to them (off by default, as the settings they serve):
  --provisioning-logs   $ROLE_PROVISIONING_LOGS for the provisioning logs (PROVISIONING_LOGS_ENABLED,
                        Entra ID P1)
  --provisioning-actions
                        $ROLE_PROVISIONING_ACTIONS, the one write permission, for
                        restarting, pausing and starting jobs (PROVISIONING_ACTIONS_ENABLED)
  --all                 every permission above
The app's permissions are replaced by the chosen ones (other APIs' entries are kept). A tenant
grants what the app declares when its administrator consents: after adding a permission, each
tenant consents again (the same link); a permission removed here stays granted in the tenants
that consented until their administrators remove it.

Options:
  --principal-id ID        principal (object) id of the managed identity, the credential's
                           subject. Default: \`azd env get-value $AZD_PRINCIPAL_ID\`.
  --identity-client-id ID  its client id, checked against the principal (catches the one given
                           for the other). Default: \`azd env get-value $AZD_CLIENT_ID\`.
  --tenant-id ID           the home tenant (where the identity and the app live), the issuer's.
                           Default: \`azd env get-value $AZD_TENANT_ID\`, else az's tenant.
  --app-id ID              update this app registration (its client id). Default:
                           \`azd env get-value $AZD_GRAPH_APP_CLIENT_ID\` once set; without one,
                           the app of --unique-name is created or updated.
  --unique-name NAME       the app's uniqueName (Graph's key for create-or-update). Default:
                           syncstatus-<\`azd env get-value $AZD_APP_NAME\`>.
  --display-name NAME      default: "SyncStatus Graph (<function app name>)"; an existing app
                           keeps its name unless this is given.
  --redirect-uri URL       https URL added to the app's web redirect URIs. Default:
                           \`azd env get-value $AZD_APP_URL\`.
  --dry-run                look things up but change nothing: print what it would do. Without
                           az on PATH, print the plan without looking anything up.
  -h, --help               show this help and exit.

Needs: Azure CLI (az) signed in (\`az login --tenant <home tenant id>\`) as a user allowed to
register applications (by default every member; else Application Developer) or to manage this
one (its owner, Cloud Application Administrator). Consenting is a separate step, in each tenant
the home tenant included, by a Privileged Role Administrator or Global Administrator there:
  bash infra/scripts/consent-link.sh <tenant id>
With GRAPH_AUTH=federated the home tenant is read through this app too, so the identity's own
Graph roles (grant-graph-permissions.sh) are no longer used once the home tenant consented.

Examples:
  $prog                          # identity, tenant and names from the azd environment
  $prog --dry-run --provisioning-actions
  $prog --principal-id 11111111-2222-3333-4444-555555555555 \\
        --tenant-id 66666666-7777-8888-9999-000000000000 --unique-name syncstatus-prod
EOF
}

absent() { # az's tsv prints None for a null
    [[ -z "$1" || "$1" == "None" ]]
}

option_value() { # OPTION ARGC VALUE -> VALUE, or a usage error when missing
    [[ "$2" -ge 2 && -n "$3" ]] || usage_error "$1 needs a value"
    printf '%s' "$3"
}

principal_id=""
identity_client_id=""
tenant_id=""
app_id=""
unique_name=""
display_name=""
redirect_uri=""
app_given=false
unique_given=false
dry_run=false

while [[ $# -gt 0 ]]; do
    case "$1" in
        -h | --help)
            usage
            exit 0
            ;;
        --dry-run) dry_run=true ;;
        --principal-id)
            principal_id="$(option_value "$1" $# "${2:-}")"
            shift
            ;;
        --identity-client-id)
            identity_client_id="$(option_value "$1" $# "${2:-}")"
            shift
            ;;
        --tenant-id)
            tenant_id="$(option_value "$1" $# "${2:-}")"
            shift
            ;;
        --app-id)
            app_id="$(option_value "$1" $# "${2:-}")"
            app_given=true
            shift
            ;;
        --unique-name)
            unique_name="$(option_value "$1" $# "${2:-}")"
            unique_given=true
            shift
            ;;
        --display-name)
            display_name="$(option_value "$1" $# "${2:-}")"
            shift
            ;;
        --redirect-uri)
            redirect_uri="$(option_value "$1" $# "${2:-}")"
            shift
            ;;
        # The source flags; --provisioning-logs and --provisioning-actions add to the sources.
        *) choose_source "$1" false || usage_error "unknown argument: $1" ;;
    esac
    shift
done

# --- the permissions ---------------------------------------------------------------------------

if ! $sources_given; then
    want_sds=true
    want_provisioning=true
    want_discovery=true
    want_directory_sync=true
    want_industry_data=true
else
    imply_provisioning
fi
choose_roles

# --- what it works on: arguments first, then the azd environment ---------------------------------

[[ -n "$principal_id" ]] || principal_id="$(trim "$(azd_value "$AZD_PRINCIPAL_ID")")"
[[ -n "$identity_client_id" ]] || identity_client_id="$(trim "$(azd_value "$AZD_CLIENT_ID")")"
[[ -n "$tenant_id" ]] || tenant_id="$(trim "$(azd_value "$AZD_TENANT_ID")")"
# An app named on the command line wins; else the one the azd environment already points at.
if ! $app_given && ! $unique_given; then
    app_id="$(trim "$(azd_value "$AZD_GRAPH_APP_CLIENT_ID")")"
fi
[[ -n "$redirect_uri" ]] || redirect_uri="$(trim "$(azd_value "$AZD_APP_URL")")"
function_app_name="$(trim "$(azd_value "$AZD_APP_NAME")")"
if [[ -z "$unique_name" && -n "$function_app_name" ]]; then
    unique_name="syncstatus-$function_app_name"
fi
if [[ -z "$display_name" ]]; then
    display_given=false
    display_name="SyncStatus Graph${function_app_name:+ ($function_app_name)}"
else
    display_given=true
fi

[[ -n "$principal_id" ]] ||
    usage_error "no managed identity: pass --principal-id ID, or run from the azd project after 'azd provision' (output $AZD_PRINCIPAL_ID)"
[[ "$principal_id" =~ $GUID_RE ]] || usage_error "principal id is not a GUID: $principal_id"
principal_id="$(lower "$principal_id")"
if [[ -n "$identity_client_id" ]]; then
    [[ "$identity_client_id" =~ $GUID_RE ]] || usage_error "identity client id is not a GUID: $identity_client_id"
    identity_client_id="$(lower "$identity_client_id")"
    [[ "$identity_client_id" != "$principal_id" ]] ||
        usage_error "the principal id and the client id are the same GUID; the credential's subject is the identity's principal (object) id ($AZD_PRINCIPAL_ID), not its client id"
fi
if [[ -n "$tenant_id" ]]; then
    [[ "$tenant_id" =~ $GUID_RE ]] || usage_error "tenant id is not a GUID: $tenant_id"
    tenant_id="$(lower "$tenant_id")"
fi
if [[ -n "$app_id" ]]; then
    [[ "$app_id" =~ $GUID_RE ]] || usage_error "app id is not a GUID: $app_id"
    app_id="$(lower "$app_id")"
elif [[ -z "$unique_name" ]]; then
    usage_error "which app registration? pass --app-id ID (an existing one) or --unique-name NAME (created if missing), or run from the azd project ($AZD_APP_NAME)"
fi
if [[ -n "$unique_name" ]]; then
    [[ "$unique_name" =~ $UNIQUE_NAME_RE ]] ||
        usage_error "unique name must be letters, digits, '.', '_' or '-' (at most 100): $unique_name"
fi
if [[ -n "$redirect_uri" ]]; then
    [[ "$redirect_uri" =~ $REDIRECT_RE ]] || usage_error "redirect URI must be an https URL: $redirect_uri"
fi
case "$display_name" in
    *\"* | *\\*) usage_error "display name may not hold '\"' or '\\'" ;;
esac

credential_name="syncstatus-$principal_id"
app_ref="${app_id:+client id $app_id}"
app_ref="${app_ref:-uniqueName $unique_name}"

credential_body() { # ISSUER -> the federated identity credential, as Graph takes it
    printf '{"name": "%s", "issuer": "%s", "subject": "%s", "audiences": ["%s"], "description": "%s"}' \
        "$credential_name" "$1" "$principal_id" "$TOKEN_EXCHANGE_AUDIENCE" \
        "SyncStatus: the function app's user-assigned managed identity"
}

if without_az "$dry_run"; then
    issuer="$LOGIN/${tenant_id:-<home tenant id>}/v2.0"
    echo "App registration: $app_ref (\"$display_name\"), sign-in audience $SIGN_IN_AUDIENCE"
    for role in "${roles[@]}"; do
        echo "would declare Microsoft Graph application permission $role"
    done
    [[ -z "$redirect_uri" ]] || echo "would add redirect URI $redirect_uri"
    echo "would add federated identity credential:"
    echo "  POST $GRAPH/applications/<object id>/federatedIdentityCredentials"
    echo "  $(credential_body "$issuer")"
    exit 0
fi

# --- with az -------------------------------------------------------------------------------------

signed_in_tenant="$(az account show --query tenantId --output tsv </dev/null)" ||
    die "az is not signed in: az login${tenant_id:+ --tenant $tenant_id}"
signed_in_tenant="$(lower "$(trim "$signed_in_tenant")")"
if [[ -z "$tenant_id" ]]; then
    tenant_id="$signed_in_tenant"
    [[ "$tenant_id" =~ $GUID_RE ]] || die "az names no tenant; pass --tenant-id ID"
elif [[ "$signed_in_tenant" != "$tenant_id" ]]; then
    die "az is signed in to tenant $signed_in_tenant, the deployment's is $tenant_id: az login --tenant $tenant_id"
fi
issuer="$LOGIN/$tenant_id/v2.0"

# The identity: a managed identity, and the one whose client id the deployment uses.
identity="$(graph_get "$GRAPH/servicePrincipals/$principal_id?\$select=id,appId,displayName,servicePrincipalType" \
    "[[servicePrincipalType, appId, displayName]]")" ||
    die "no service principal with object id $principal_id in tenant $tenant_id (the client id instead of the principal id? just created? retry in a minute)"
IFS=$'\t' read -r identity_type identity_app_id identity_name <<<"$identity"
[[ "$identity_type" == "ManagedIdentity" ]] ||
    die "$principal_id is a service principal of type '$identity_type' ($identity_name), not a managed identity: give the function app's identity ($AZD_PRINCIPAL_ID)"
if [[ -n "$identity_client_id" && "$(lower "$identity_app_id")" != "$identity_client_id" ]]; then
    die "the identity $principal_id has client id $identity_app_id, not $identity_client_id: two different identities given"
fi

# The Graph permissions, by value.
find_graph
absent "$graph_sp_id" && die "the Microsoft Graph service principal was not found in this tenant"
access=""
wanted_ids=()
for role in "${roles[@]}"; do
    role_id="$(graph_role_id "$role")"
    absent "$role_id" && die "Microsoft Graph has no application permission $role"
    role_id="$(lower "$role_id")"
    wanted_ids+=("$role_id")
    access+="${access:+, }{\"id\": \"$role_id\", \"type\": \"Role\"}"
done
graph_access="{\"resourceAppId\": \"$GRAPH_APP_ID\", \"resourceAccess\": [$access]}"

# The app, when there is one already: its ids, what it declares now, its redirect URIs.
app_object_id=""
app_object_url=""
app_created=false
if [[ -n "$app_id" ]]; then
    app_url="$GRAPH/applications(appId='$app_id')"
    found="$(graph_get "$app_url?\$select=id,appId,displayName" "[[id, appId, displayName]]")" ||
        die "no app registration with client id $app_id in tenant $tenant_id ($AZD_GRAPH_APP_CLIENT_ID names one that is gone? unset it to create one)"
else
    app_url="$GRAPH/applications(uniqueName='$unique_name')"
    found="$(graph_get "$app_url?\$select=id,appId,displayName" "[[id, appId, displayName]]" 2>/dev/null)" || found=""
fi
declared_ids=""
other_access="[]"
redirect_uris=""
if [[ -n "$found" ]]; then
    IFS=$'\t' read -r app_object_id app_id current_name <<<"$found"
    app_id="$(lower "$app_id")"
    $display_given || display_name="$current_name"
    app_object_url="$GRAPH/applications/$app_object_id"
    declared_ids="$(graph_get "$app_object_url?\$select=requiredResourceAccess" \
        "requiredResourceAccess[?resourceAppId=='$GRAPH_APP_ID'].resourceAccess[] | [?type=='Role'].id")"
    other_access="$(az rest --method GET --url "$app_object_url?\$select=requiredResourceAccess" \
        --query "requiredResourceAccess[?resourceAppId!='$GRAPH_APP_ID']" --output json </dev/null)"
    redirect_uris="$(graph_get "$app_object_url?\$select=web" "web.redirectUris")"
fi

# The app's requiredResourceAccess: Graph's entry replaced, every other API's kept as it is.
other_access="$(trim "$other_access")"
if [[ "$(printf '%s' "$other_access" | tr -d '[:space:]')" == "[]" ]]; then
    required="[$graph_access]"
else
    inner="${other_access#\[}"
    required="[$graph_access, ${inner%\]}]"
fi
uris=""
have_redirect=false
while IFS= read -r uri; do
    uri="$(trim "$uri")"
    absent "$uri" && continue
    case "$uri" in *\"* | *\\*) continue ;; esac # not a URI Entra takes
    [[ "$uri" == "$redirect_uri" ]] && have_redirect=true
    uris+="${uris:+, }\"$uri\""
done <<<"$redirect_uris"
if [[ -n "$redirect_uri" ]] && ! $have_redirect; then
    uris+="${uris:+, }\"$redirect_uri\""
fi
body="{\"displayName\": \"$display_name\", \"signInAudience\": \"$SIGN_IN_AUDIENCE\", \"requiredResourceAccess\": $required"
[[ -z "$uris" ]] || body+=", \"web\": {\"redirectUris\": [$uris]}"
body+="}"

# What changes in the tenants' consent: permissions added need consent again, removed ones stay
# granted where consented.
added=()
for role_id in "${wanted_ids[@]}"; do
    grep -qiF -- "$role_id" <<<"$declared_ids" || added+=("$role_id")
done
removed=()
while IFS= read -r declared; do
    declared="$(lower "$(trim "$declared")")"
    absent "$declared" && continue
    keep=false
    for role_id in "${wanted_ids[@]}"; do
        [[ "$role_id" == "$declared" ]] && keep=true
    done
    $keep || removed+=("$declared")
done <<<"$declared_ids"

echo "Identity: $identity_name ($principal_id, client id $identity_app_id)"
echo "Home tenant: $tenant_id"
$dry_run && echo "Dry run: nothing will be changed."
if [[ -n "$app_object_id" ]]; then
    echo "App registration: \"$display_name\", client id $app_id, to update"
else
    echo "App registration: \"$display_name\", uniqueName $unique_name, to create"
fi
for role in "${roles[@]}"; do
    echo "permission  $role"
done

if $dry_run; then
    if [[ -n "$app_object_id" ]]; then
        echo "would  PATCH $app_object_url"
    else
        echo "would  PATCH $app_url (Prefer: create-if-missing)"
    fi
    echo "       $body"
elif [[ -n "$app_object_id" ]]; then
    az rest --method PATCH --url "$app_object_url" --headers "Content-Type=application/json" \
        --body "$body" --output none </dev/null
    echo "updated the app registration"
else
    # Upsert: created (201, the new app) or, if it appeared meanwhile, updated (204, nothing).
    created="$(az rest --method PATCH --url "$app_url" \
        --headers "Content-Type=application/json" "Prefer=create-if-missing" \
        --body "$body" --query "[[id, appId]]" --output tsv </dev/null)"
    if absent "$created"; then
        created="$(graph_get "$app_url?\$select=id,appId" "[[id, appId]]")"
    fi
    IFS=$'\t' read -r app_object_id app_id <<<"$created"
    app_id="$(lower "$app_id")"
    app_object_url="$GRAPH/applications/$app_object_id"
    app_created=true
    echo "created the app registration"
fi

# The federated identity credential: one per identity, found by its issuer and subject (or its
# name); other credentials are reported, not removed.
if [[ -n "$app_object_id" ]]; then
    credentials="$(graph_get "$app_object_url/federatedIdentityCredentials" \
        "value[].[id, name, issuer, subject, join(' ', audiences)]")"
else
    credentials=""
fi
matching_id="" matching_audiences="" named_id=""
notes=()
while IFS=$'\t' read -r credential_id name credential_issuer subject audiences; do
    absent "$credential_id" && continue
    if [[ "$credential_issuer" == "$issuer" && "$(lower "$subject")" == "$principal_id" ]]; then
        matching_id="$credential_id" matching_audiences="$audiences"
    elif [[ "$name" == "$credential_name" ]]; then
        named_id="$credential_id"
    else
        notes+=("note   the app also trusts '$name' ($credential_issuer, subject $subject): if that identity is gone, remove it:")
        notes+=("       az rest --method DELETE --url $app_object_url/federatedIdentityCredentials/$credential_id")
    fi
done <<<"$credentials"
fic_body="$(credential_body "$issuer")"
fic_update="{\"issuer\": \"$issuer\", \"subject\": \"$principal_id\", \"audiences\": [\"$TOKEN_EXCHANGE_AUDIENCE\"]}"
if [[ -n "$matching_id" && "$matching_audiences" == "$TOKEN_EXCHANGE_AUDIENCE" ]]; then
    echo "skip   federated credential for $principal_id: already there"
elif [[ -n "$matching_id" || -n "$named_id" ]]; then
    fic_id="${matching_id:-$named_id}"
    if $dry_run; then
        echo "would  PATCH $app_object_url/federatedIdentityCredentials/$fic_id $fic_update"
    else
        az rest --method PATCH --url "$app_object_url/federatedIdentityCredentials/$fic_id" \
            --headers "Content-Type=application/json" --body "$fic_update" --output none </dev/null
        echo "updated federated credential $credential_name"
    fi
elif $dry_run; then
    echo "would  POST ${app_object_url:-$GRAPH/applications/<object id>}/federatedIdentityCredentials $fic_body"
else
    # A new app takes a moment to be seen everywhere: a few tries then, one otherwise.
    tries=1
    if $app_created; then tries=6; fi
    for ((attempt = 1; ; attempt++)); do
        if az rest --method POST --url "$app_object_url/federatedIdentityCredentials" \
            --headers "Content-Type=application/json" --body "$fic_body" --output none </dev/null; then
            break
        fi
        [[ $attempt -lt $tries ]] || die "could not add the federated credential (a new app not seen everywhere yet? run the script again in a minute)"
        sleep 10
    done
    echo "added  federated credential $credential_name (subject $principal_id)"
fi
for note in "${notes[@]+"${notes[@]}"}"; do
    echo "$note"
done

if [[ ${#removed[@]} -gt 0 ]]; then
    for role_id in "${removed[@]}"; do
        value="$(graph_role_value "$role_id")"
        absent "$value" && value="$role_id"
        if $dry_run; then
            echo "note   would no longer declare $value: tenants that consented keep it granted until their administrators remove it"
        else
            echo "note   no longer declares $value: tenants that consented keep it granted until their administrators remove it"
        fi
    done
fi
if [[ -n "$declared_ids" && ${#added[@]} -gt 0 ]]; then
    echo "note   newly declared permissions: tenants that consented before must consent again (the same link) to grant them"
fi

if $dry_run; then
    exit 0
fi
echo
echo "Multi-tenant app: $display_name"
echo "  client id: $app_id"
echo "Point the deployment at it, then provision (azd provision, or azd up):"
echo "  azd env set $AZD_GRAPH_APP_CLIENT_ID $app_id"
echo "  azd env set $AZD_GRAPH_AUTH federated"
echo "Then an administrator of each tenant consents once, the home tenant first:"
echo "  bash infra/scripts/consent-link.sh $tenant_id"
[[ -n "$uris" ]] ||
    echo "(No redirect URI: after consenting Entra shows an error about the missing reply address; the consent is given all the same. --redirect-uri URL adds one.)"
