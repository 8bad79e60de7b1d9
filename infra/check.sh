#!/usr/bin/env bash
# Offline policy check of the Bicep in infra/ with checkov.
#
# checkov lives in its own venv (.venv-infra at the repo root, git-ignored): its dependency pins
# clash with the app's requirements, so it cannot share .venv. The venv is created on first use
# and reinstalled when infra/requirements-checkov.txt changes. Exits non-zero on any failed
# check; intentional exceptions are `// checkov:skip=CKV_...:reason` comments in the Bicep.
#
# Environment: PYTHON (interpreter for the venv, default python3), CHECKOV_VENV (venv path).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${CHECKOV_VENV:-$root/.venv-infra}"
requirements="$root/infra/requirements-checkov.txt"
stamp="$venv/.installed"

if [[ ! -x "$venv/bin/checkov" || ! -f "$stamp" || "$requirements" -nt "$stamp" ]]; then
    echo "infra/check.sh: installing checkov into ${venv#"$root"/}" >&2
    [[ -x "$venv/bin/python" ]] || "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    touch "$stamp"
fi

cd "$root"
# --skip-download: no calls to the Prisma Cloud platform (no network needed, no doc links).
# --framework bicep: scan the .bicep files only (main.parameters.json is not an ARM template).
exec "$venv/bin/checkov" \
    --directory infra \
    --framework bicep \
    --quiet \
    --compact \
    --skip-download
