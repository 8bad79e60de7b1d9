#!/usr/bin/env bash
# Prints the admin-consent link of SyncStatus's multi-tenant app (GRAPH_APP_CLIENT_ID, made by
# create-multitenant-app.sh) for one tenant, and what to do once its administrator consented.
# Looks nothing up and changes nothing. See usage() below.
set -euo pipefail

# The pieces the scripts share (bash alone finds the directory: no dirname on a minimal PATH).
case "${BASH_SOURCE[0]}" in */*) lib="${BASH_SOURCE[0]%/*}/lib" ;; *) lib=lib ;; esac
# shellcheck source=SCRIPTDIR/lib/graph-permissions.sh
source "$lib/graph-permissions.sh"

# Entra's admin consent endpoint, as the app builds it (shared/graph/credentials.py,
# admin_consent_url; GET /api/tenants/{tenantId}/consent answers the same link).
readonly LOGIN="https://login.microsoftonline.com"
readonly AZD_GRAPH_APP_CLIENT_ID="GRAPH_APP_CLIENT_ID" # azd variable (infra/main.parameters.json)
readonly AZD_TENANT_ID="AZURE_TENANT_ID"               # output of infra/main.bicep: the home tenant
readonly AZD_APP_URL="AZURE_FUNCTION_APP_URL"          # output of infra/main.bicep
readonly AZD_APP_NAME="AZURE_FUNCTION_APP_NAME"        # output of infra/main.bicep
readonly AZD_RESOURCE_GROUP="AZURE_RESOURCE_GROUP"     # output of infra/main.bicep

usage() {
    cat <<EOF
Usage: $prog [--app-id ID] [--url-only] TENANT_ID

Prints the admin-consent link of the multi-tenant app for the tenant TENANT_ID (a GUID):
  $LOGIN/<tenant id>/adminconsent?client_id=<$AZD_GRAPH_APP_CLIENT_ID>
An administrator of that tenant (Privileged Role Administrator or Global Administrator) opens
it, signs in and accepts: the tenant then grants the app the Graph application permissions it
declares. Then the tenant is added to SyncStatus with POST /api/tenants (the home tenant is
always there), and GET /api/tenants/{tenantId} shows its consent after the next poll.

Options:
  --app-id ID  the multi-tenant app's client id. Default: \$$AZD_GRAPH_APP_CLIENT_ID, else
               \`azd env get-value $AZD_GRAPH_APP_CLIENT_ID\`.
  --url-only   print the link alone.
  -h, --help   show this help and exit.
EOF
}

app_id=""
tenant_id=""
url_only=false
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h | --help)
            usage
            exit 0
            ;;
        --app-id)
            [[ $# -ge 2 && -n "$2" ]] || usage_error "--app-id needs a value"
            app_id="$2"
            shift
            ;;
        --url-only) url_only=true ;;
        -*) usage_error "unknown option: $1" ;;
        *)
            [[ -z "$tenant_id" ]] || usage_error "one tenant at a time"
            tenant_id="$1"
            ;;
    esac
    shift
done

[[ -n "$tenant_id" ]] || usage_error "which tenant? give its id (a GUID)"
[[ "$tenant_id" =~ $GUID_RE ]] || usage_error "tenant id is not a GUID: $tenant_id"
[[ -n "$app_id" ]] || app_id="${GRAPH_APP_CLIENT_ID:-}"
[[ -n "$app_id" ]] || app_id="$(azd_value "$AZD_GRAPH_APP_CLIENT_ID")"
[[ -n "$app_id" ]] ||
    usage_error "no multi-tenant app: pass --app-id ID, or set $AZD_GRAPH_APP_CLIENT_ID (azd env set $AZD_GRAPH_APP_CLIENT_ID ..., printed by create-multitenant-app.sh)"
[[ "$app_id" =~ $GUID_RE ]] || usage_error "$AZD_GRAPH_APP_CLIENT_ID is not a GUID: $app_id"

tenant_id="$(lower "$tenant_id")"
app_id="$(lower "$app_id")"
url="$LOGIN/$tenant_id/adminconsent?client_id=$app_id"
if $url_only; then
    echo "$url"
    exit 0
fi

home_tenant="$(lower "$(azd_value "$AZD_TENANT_ID")")"
base="$(azd_value "$AZD_APP_URL")"
base="${base:-https://<function app>.azurewebsites.net}"
app_name="$(azd_value "$AZD_APP_NAME")"
resource_group="$(azd_value "$AZD_RESOURCE_GROUP")"

echo "Admin consent for tenant $tenant_id:"
echo "an administrator of that tenant (Privileged Role Administrator or Global Administrator)"
echo "opens this link, signs in and accepts:"
echo
echo "  $url"
echo
if [[ -n "$home_tenant" && "$tenant_id" == "$home_tenant" ]]; then
    echo "This is the home tenant: SyncStatus always polls it, nothing to add."
else
    echo "Then add the tenant to SyncStatus with POST /api/tenants (an admin route: the host's"
    echo "master key):"
    echo
    echo "  KEY=\$(az functionapp keys list -g ${resource_group:-<resource group>} -n ${app_name:-<function app>} --query masterKey -o tsv)"
    echo "  curl -X POST -H \"x-functions-key: \$KEY\" -H \"Content-Type: application/json\" \\"
    echo "    -d '{\"tenantId\": \"$tenant_id\", \"displayName\": \"<its name>\"}' $base/api/tenants"
fi
echo
echo "After the next poll, GET /api/tenants/$tenant_id shows its consent:"
echo "  \"consent\": {\"state\": \"consented\", ...} (consentNeeded, with Entra's code, until it is given)."
