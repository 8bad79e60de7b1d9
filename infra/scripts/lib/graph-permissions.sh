# shellcheck shell=bash
# Sourced, not run, by the scripts in infra/scripts (grant-graph-permissions.sh,
# create-multitenant-app.sh, consent-link.sh), after their `set -euo pipefail`:
#   source "<the script's directory>/lib/graph-permissions.sh"
# What they share: messages and errors, the azd environment, the source flags and the
# Microsoft Graph permissions they map to, and the Graph lookups. The permissions themselves
# (ROLE_SDS, ROLE_PROVISIONING, ROLE_DISCOVERY, ROLE_PROVISIONING_LOGS,
# ROLE_PROVISIONING_ACTIONS, ROLE_DIRECTORY_SYNC, ROLE_INDUSTRY_DATA) are the sourcing script's
# readonly constants, checked against the sources' by tests/unit/test_registry.py and
# tests/unit/test_infra_tenants.py.
# Variables set here are the sourcing scripts' (they read them), hence:
# shellcheck disable=SC2034

readonly GRAPH_APP_ID="00000003-0000-0000-c000-000000000000" # Microsoft Graph, in every tenant
readonly GRAPH="https://graph.microsoft.com/v1.0"
readonly GUID_RE='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'

prog="$(basename "$0")"

# --- text, errors ---------------------------------------------------------------------------------

lower() { # bash 3.2 (macOS) has no ${var,,}
    printf '%s' "$1" | tr '[:upper:]' '[:lower:]'
}

trim() { # leading and trailing whitespace off, as Python's str.strip()
    local value="$1"
    value="${value#"${value%%[![:space:]]*}"}"
    printf '%s' "${value%"${value##*[![:space:]]}"}"
}

die() {
    echo "$prog: $*" >&2
    exit 1
}

usage_error() {
    echo "$prog: $*" >&2
    echo "Try '$prog --help'." >&2
    exit 2
}

# --- the azd environment --------------------------------------------------------------------------

azd_value() { # NAME -> its value in the azd environment; empty when unset, unreadable or no azd
    command -v azd >/dev/null 2>&1 || return 0
    azd env get-value "$1" 2>/dev/null </dev/null || true
}

# --- the sources and the Graph permissions they need ----------------------------------------------

# The sources chosen on the command line (choose_source); sources_given once any flag replaced
# the default.
sources_given=false
want_sds=false
want_provisioning=false
want_discovery=false
want_logs=false
want_actions=false
want_directory_sync=false
want_industry_data=false

# FLAG EXTRAS_CHOOSE -> records a source flag in want_* and succeeds; fails for any other
# argument. EXTRAS_CHOOSE (true or false): whether --provisioning-logs and --provisioning-actions
# choose sources too (replacing the default, as every other source flag), or only add to them.
choose_source() {
    case "$1" in
        --sds) want_sds=true sources_given=true ;;
        --provisioning) want_provisioning=true want_discovery=true sources_given=true ;;
        --provisioning-named) want_provisioning=true sources_given=true ;;
        --provisioning-logs)
            want_logs=true
            if $2; then sources_given=true; fi
            ;;
        --provisioning-actions)
            want_actions=true
            if $2; then sources_given=true; fi
            ;;
        --directory-sync) want_directory_sync=true sources_given=true ;;
        --industry-data) want_industry_data=true sources_given=true ;;
        --all)
            sources_given=true
            want_sds=true
            want_provisioning=true
            want_discovery=true
            want_logs=true
            want_actions=true
            want_directory_sync=true
            want_industry_data=true
            ;;
        *) return 1 ;;
    esac
}

# The provisioning logs and job actions belong to the provisioning jobs source, which discovers
# by default: asked for without it, they bring it.
imply_provisioning() {
    if { $want_logs || $want_actions; } && ! $want_provisioning; then
        want_provisioning=true
        want_discovery=true
    fi
}

# want_* -> roles, the Graph application roles (permissions) the sources need, least privilege:
# reading needs read-only ones, only the provisioning job actions a ReadWrite one; and sources,
# what they are, in words.
choose_roles() {
    roles=()
    sources=()
    if $want_sds; then
        roles+=("$ROLE_SDS")
        sources+=("School Data Sync")
    fi
    if $want_provisioning; then
        roles+=("$ROLE_PROVISIONING")
        if $want_discovery; then
            roles+=("$ROLE_DISCOVERY")
            sources+=("provisioning jobs (discovered)")
        else
            sources+=("provisioning jobs (named service principals)")
        fi
        if $want_logs; then
            roles+=("$ROLE_PROVISIONING_LOGS")
            sources+=("provisioning logs")
        fi
        if $want_actions; then
            roles+=("$ROLE_PROVISIONING_ACTIONS")
            sources+=("provisioning job actions")
        fi
    fi
    if $want_directory_sync; then
        roles+=("$ROLE_DIRECTORY_SYNC")
        sources+=("directory synchronization")
    fi
    if $want_industry_data; then
        roles+=("$ROLE_INDUSTRY_DATA")
        sources+=("Industry Data runs")
    fi
}

# --- Microsoft Graph, through az ------------------------------------------------------------------

# DRY_RUN -> succeeds when az is not on PATH and DRY_RUN is true: the caller prints its plan
# without looking anything up. Fails when az is there; without az and not a dry run, an error.
without_az() {
    command -v az >/dev/null 2>&1 && return 1
    $1 || die "the Azure CLI (az) is needed; install it and run 'az login'"
    echo "Dry run without az: nothing looked up, nothing changed."
}

graph_get() { # URL JMESPATH -> tsv (stdin closed: the callers' loops read from here-strings)
    az rest --method GET --url "$1" --query "$2" --output tsv </dev/null
}

find_graph() { # -> graph_sp_id, the Microsoft Graph service principal's object id in this tenant
    graph_sp_id="$(graph_get "$GRAPH/servicePrincipals(appId='$GRAPH_APP_ID')?\$select=id" id)" ||
        die "cannot read the Microsoft Graph service principal"
}

graph_role_id() { # ROLE -> the id of Microsoft Graph's application role ROLE (None: no such role)
    graph_get "$GRAPH/servicePrincipals/$graph_sp_id?\$select=appRoles" \
        "appRoles[?value=='$1' && contains(allowedMemberTypes, 'Application')].id | [0]"
}

graph_role_value() { # APP ROLE ID -> its value (None: no such role)
    graph_get "$GRAPH/servicePrincipals/$graph_sp_id?\$select=appRoles" "appRoles[?id=='$1'].value | [0]"
}
