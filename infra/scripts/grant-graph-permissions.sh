#!/usr/bin/env bash
# Grants the function app's managed identity the Microsoft Graph application roles (application
# permissions) that its enabled sources need, and nothing else. See usage() below.
set -euo pipefail

# The pieces the scripts share (bash alone finds the directory: no dirname on a minimal PATH).
case "${BASH_SOURCE[0]}" in */*) lib="${BASH_SOURCE[0]%/*}/lib" ;; *) lib=lib ;; esac
# shellcheck source=SCRIPTDIR/lib/graph-permissions.sh
source "$lib/graph-permissions.sh"

readonly AZD_OUTPUT="API_IDENTITY_PRINCIPAL_ID" # output of infra/main.bicep

# Source -> the application roles it needs (shared/sources: each source's permission, and
# extra_permissions for the configurations that need more). Polling needs read-only roles; only
# the provisioning job actions (restart, pause, start) need a ReadWrite one.
readonly ROLE_SDS="EduAdministration.Read.All"          # School Data Sync profiles and their status
readonly ROLE_PROVISIONING="Synchronization.Read.All"   # Entra ID provisioning (synchronization) jobs
readonly ROLE_DISCOVERY="Application.Read.All"          # provisioning: listing service principals (discovery)
readonly ROLE_PROVISIONING_LOGS="AuditLog.Read.All"     # provisioning: the provisioning logs (Entra ID P1)
readonly ROLE_PROVISIONING_ACTIONS="Synchronization.ReadWrite.All" # provisioning: job actions
readonly ROLE_DIRECTORY_SYNC="Organization.Read.All"    # Entra Connect: the organization's last sync times
readonly ROLE_INDUSTRY_DATA="IndustryData-Run.Read.All" # Industry Data runs

# azd environment variables that decide the roles (infra/main.parameters.json -> app settings).
readonly ENV_SDS="SDS_PROFILES_ENABLED"
readonly ENV_PROVISIONING="PROVISIONING_JOBS_ENABLED"
readonly ENV_PROVISIONING_IDS="PROVISIONING_SERVICE_PRINCIPAL_IDS"
readonly ENV_PROVISIONING_LOGS="PROVISIONING_LOGS_ENABLED"
readonly ENV_PROVISIONING_ACTIONS="PROVISIONING_ACTIONS_ENABLED"
readonly ENV_DIRECTORY_SYNC="DIRECTORY_SYNC_ENABLED"
readonly ENV_INDUSTRY_DATA="INDUSTRY_DATA_RUNS_ENABLED"

usage() {
    cat <<EOF
Usage: $prog [options] [PRINCIPAL_ID]

Assigns the managed identity of SyncStatus exactly the Microsoft Graph application roles its
enabled sources need. Roles are looked up by value in the appRoles of the Microsoft Graph
service principal (appId $GRAPH_APP_ID). A role the identity
already holds is skipped, so the script is safe to run again. Graph roles the identity holds
but the chosen sources do not need are reported (not removed).

Sources (any of these flags replaces the default):
  --sds                 $ROLE_SDS  School Data Sync (classic) profiles
  --provisioning        $ROLE_PROVISIONING    Entra ID provisioning jobs of every service
                        + $ROLE_DISCOVERY      principal that has them (discovery)
  --provisioning-named  $ROLE_PROVISIONING    provisioning jobs of the service principals
                                                    named in $ENV_PROVISIONING_IDS
                                                    only (no discovery)
  --provisioning-logs   $ROLE_PROVISIONING_LOGS           the provisioning logs (Entra ID P1 licence);
                                                    alone, it implies --provisioning
  --provisioning-actions
                        $ROLE_PROVISIONING_ACTIONS
                                                    restarting, pausing and starting
                                                    provisioning jobs through the API
                                                    ($ENV_PROVISIONING_ACTIONS=true);
                                                    alone, it implies --provisioning
  --directory-sync      $ROLE_DIRECTORY_SYNC       Entra Connect directory synchronization
  --industry-data       $ROLE_INDUSTRY_DATA   Industry Data runs
  --all                 every role above            every source, with discovery, the logs
                                                    and the job actions
Default: the sources the deployment enables, read with \`azd env get-value\` from the
variables infra/main.parameters.json passes to the app (unset ones take the app's defaults):
  $ENV_SDS                default true
  $ENV_PROVISIONING           default true
  $ENV_PROVISIONING_IDS  default auto (or empty): discovery, which adds
                                      $ROLE_DISCOVERY; object ids (comma-separated) do not
  $ENV_PROVISIONING_LOGS           default false; true adds $ROLE_PROVISIONING_LOGS
  $ENV_PROVISIONING_ACTIONS        default false; true adds $ROLE_PROVISIONING_ACTIONS
  $ENV_DIRECTORY_SYNC              default true
  $ENV_INDUSTRY_DATA          default false
Without azd on PATH: the app's defaults, i.e. School Data Sync, provisioning jobs (discovered)
and directory synchronization.

Options:
  --principal-id ID  object (principal) id of the managed identity; also accepted as the
                     positional PRINCIPAL_ID. Default: \`azd env get-value $AZD_OUTPUT\`
                     (an output of infra/main.bicep after \`azd up\`).
  --dry-run          look things up but change nothing: print each assignment it would make.
                     Without az on PATH, print the plan without looking anything up.
  -h, --help         show this help and exit.

Needs: Azure CLI (az) signed in (\`az login\`) as a user allowed to grant application permissions
of Microsoft Graph, e.g. Privileged Role Administrator (or Global Administrator). The identity's
client id is not its principal id: use the object id (azd output $AZD_OUTPUT).

Examples:
  $prog                  # sources and principal id from the azd environment
  $prog --all --dry-run  # what every source would need
  $prog --sds --provisioning-named 11111111-2222-3333-4444-555555555555
EOF
}

# NAME VALUE DEFAULT -> true/false, read the way the app reads a flag (shared/settings.py).
env_flag() {
    local value
    value="$(lower "$2" | tr -d '[:space:]')"
    case "$value" in
        "") echo "$3" ;;
        true | 1 | yes) echo true ;;
        false | 0 | no) echo false ;;
        *) die "$1 in the azd environment is '$2', not true or false (the app would refuse it too)" ;;
    esac
}

# PROVISIONING_SERVICE_PRINCIPAL_IDS -> true when the app discovers the service principals (auto,
# or no id at all), false when it polls the ones named, read the way the app reads it
# (shared/sources/provisioning_jobs/settings.py).
provisioning_discovers() {
    local value part named=false
    local -a parts=()
    value="$(lower "$(trim "$1")")"
    if [[ -z "$value" || "$value" == "auto" ]]; then
        echo true
        return
    fi
    IFS=',' read -r -a parts <<<"$value"
    for part in "${parts[@]}"; do
        part="$(trim "$part")"
        [[ -n "$part" ]] || continue
        [[ "$part" =~ $GUID_RE ]] ||
            die "$ENV_PROVISIONING_IDS in the azd environment holds '$part', not a service principal object id (GUID) nor auto (the app would refuse it too)"
        named=true
    done
    if $named; then echo false; else echo true; fi
}

principal_id=""
dry_run=false

while [[ $# -gt 0 ]]; do
    case "$1" in
        -h | --help)
            usage
            exit 0
            ;;
        --dry-run) dry_run=true ;;
        --principal-id)
            [[ $# -ge 2 && -n "$2" ]] || usage_error "--principal-id needs a value"
            principal_id="$2"
            shift
            ;;
        --principal-id=*) principal_id="${1#*=}" ;;
        # The source flags; --provisioning-logs and --provisioning-actions choose sources too.
        -*) choose_source "$1" true || usage_error "unknown option: $1" ;;
        *)
            [[ -z "$principal_id" ]] || usage_error "more than one principal id given"
            principal_id="$1"
            ;;
    esac
    shift
done

if $sources_given; then
    sources_from="the command line"
    imply_provisioning
else
    # The app's defaults, as deployed from the azd environment when there is one.
    sds_value="" provisioning_value="" provisioning_ids="" logs_value="" actions_value=""
    directory_sync_value="" industry_data_value=""
    if command -v azd >/dev/null 2>&1; then
        sources_from="the azd environment"
        sds_value="$(azd_value "$ENV_SDS")"
        provisioning_value="$(azd_value "$ENV_PROVISIONING")"
        provisioning_ids="$(azd_value "$ENV_PROVISIONING_IDS")"
        logs_value="$(azd_value "$ENV_PROVISIONING_LOGS")"
        actions_value="$(azd_value "$ENV_PROVISIONING_ACTIONS")"
        directory_sync_value="$(azd_value "$ENV_DIRECTORY_SYNC")"
        industry_data_value="$(azd_value "$ENV_INDUSTRY_DATA")"
    else
        sources_from="the app's defaults (no azd)"
    fi
    # Every setting is checked, as the app checks them whether or not its source is on.
    want_sds="$(env_flag "$ENV_SDS" "$sds_value" true)"
    want_provisioning="$(env_flag "$ENV_PROVISIONING" "$provisioning_value" true)"
    want_discovery="$(provisioning_discovers "$provisioning_ids")"
    want_logs="$(env_flag "$ENV_PROVISIONING_LOGS" "$logs_value" false)"
    want_actions="$(env_flag "$ENV_PROVISIONING_ACTIONS" "$actions_value" false)"
    want_directory_sync="$(env_flag "$ENV_DIRECTORY_SYNC" "$directory_sync_value" true)"
    want_industry_data="$(env_flag "$ENV_INDUSTRY_DATA" "$industry_data_value" false)"
    if ! $want_provisioning; then
        want_discovery=false
        want_logs=false
        want_actions=false
    fi
    if ! $want_sds && ! $want_provisioning && ! $want_directory_sync && ! $want_industry_data; then
        die "$sources_from enables no source ($ENV_SDS, $ENV_PROVISIONING, $ENV_DIRECTORY_SYNC, $ENV_INDUSTRY_DATA), which the app refuses; enable one there, or choose with --sds, --provisioning, --directory-sync or --industry-data"
    fi
fi

choose_roles
sources_text="$(IFS=,; echo "${sources[*]}")"
sources_text="Sources (from $sources_from): ${sources_text//,/, }"
if $want_provisioning && $want_logs; then
    sources_text+=$'\n'"(Graph serves the provisioning logs only to tenants with an Entra ID P1 or P2 licence.)"
fi
if $want_provisioning && $want_actions; then
    sources_text+=$'\n'"(The app acts on jobs only with $ENV_PROVISIONING_ACTIONS=true; polling needs only $ROLE_PROVISIONING.)"
fi

if [[ -z "$principal_id" ]]; then
    principal_id="$(azd_value "$AZD_OUTPUT")"
    [[ -n "$principal_id" ]] ||
        usage_error "no principal id: pass --principal-id ID, or run from the azd project after 'azd up' (output $AZD_OUTPUT)"
fi

[[ "$principal_id" =~ $GUID_RE ]] || usage_error "principal id is not a GUID: $principal_id"

if without_az "$dry_run"; then
    echo "Principal: $principal_id"
    echo "$sources_text"
    for role in "${roles[@]}"; do
        echo "would assign Microsoft Graph application role $role:"
        echo "  POST $GRAPH/servicePrincipals/$principal_id/appRoleAssignments"
        echo "  {\"principalId\": \"$principal_id\", \"resourceId\": \"<id of the Graph service principal>\", \"appRoleId\": \"<id of $role>\"}"
    done
    exit 0
fi

principal_name="$(graph_get "$GRAPH/servicePrincipals/$principal_id?\$select=id,displayName" displayName)" ||
    die "no service principal with object id $principal_id (a client id instead of the principal id? just created? retry in a minute)"

find_graph
[[ -n "$graph_sp_id" ]] || die "the Microsoft Graph service principal was not found in this tenant"

# The identity's current Graph role assignments: "<assignment id>\t<app role id>" per line.
existing="$(graph_get "$GRAPH/servicePrincipals/$principal_id/appRoleAssignments" \
    "value[?resourceId=='$graph_sp_id'].[id, appRoleId]")"

echo "Principal: $principal_name ($principal_id)"
echo "$sources_text"
$dry_run && echo "Dry run: nothing will be changed."

wanted_ids=()
for role in "${roles[@]}"; do
    role_id="$(graph_role_id "$role")"
    [[ -n "$role_id" && "$role_id" != "None" ]] || die "Microsoft Graph has no application role $role"
    wanted_ids+=("$(lower "$role_id")")

    if grep -qiF -- "$role_id" <<<"$existing"; then
        echo "skip   $role ($role_id): already assigned"
        continue
    fi
    body="{\"principalId\": \"$principal_id\", \"resourceId\": \"$graph_sp_id\", \"appRoleId\": \"$role_id\"}"
    if $dry_run; then
        echo "would  assign $role ($role_id)"
        echo "       POST $GRAPH/servicePrincipals/$principal_id/appRoleAssignments $body"
    else
        az rest --method POST --url "$GRAPH/servicePrincipals/$principal_id/appRoleAssignments" \
            --headers "Content-Type=application/json" --body "$body" --output none </dev/null
        echo "added  $role ($role_id)"
    fi
done

# Least privilege: point out Graph roles the chosen sources do not need (left in place).
while IFS=$'\t' read -r assignment_id app_role_id; do
    [[ -n "$assignment_id" ]] || continue
    needed=false
    app_role_id_lower="$(lower "$app_role_id")"
    for id in "${wanted_ids[@]}"; do
        [[ "$id" == "$app_role_id_lower" ]] && needed=true
    done
    $needed && continue
    value="$(graph_role_value "$app_role_id")"
    echo "note   also holds ${value:-$app_role_id}, which the chosen sources do not need. To remove it:"
    echo "       az rest --method DELETE --url $GRAPH/servicePrincipals/$principal_id/appRoleAssignments/$assignment_id"
done <<<"$existing"

if ! $dry_run; then
    echo "Done. Managed identity tokens are cached (up to 24 hours), so a new role can take"
    echo "that long to appear in the app's Graph tokens."
fi
