#!/usr/bin/env bash
# Writes Spin's runtime configuration (static variables provider, infra/spin/runtime-config.toml's
# shape) for a host that runs `spin up` directly, with both backend credentials read from the
# deployment's Key Vault, to a file only its owner can read:
#
#   infra/scripts/spin-runtime-config.sh <output file>
#   spin up --from spin.toml --runtime-config-file <output file>
#
# Run from the repository root with the azd environment of the deployment (or AZURE_KEY_VAULT_NAME,
# BACKEND_KEY_SECRET_NAME and DOCS_BACKEND_KEY_SECRET_NAME set). The values go from Key Vault to the
# file through pipes, never through an argument or output. Restart `spin up` after a rotation.
# shellcheck source=../hooks/lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../hooks/lib.sh"
require_tools az

output="${1:-}"
[[ -n "$output" ]] || die "usage: $0 <output file>"
if [[ -z "${AZURE_KEY_VAULT_NAME:-}" ]] && command -v azd >/dev/null 2>&1; then
  set -a
  # shellcheck disable=SC1090,SC1091 # the azd environment of this project, KEY="value" lines
  source <(azd env get-values)
  set +a
fi
require_env AZURE_KEY_VAULT_NAME BACKEND_KEY_SECRET_NAME DOCS_BACKEND_KEY_SECRET_NAME

value_or_empty() { # <secret>: its value, or nothing when Key Vault answers SecretNotFound
  if kv_secret_exists "$1"; then kv_secret_get "$1" value; fi
}
api="$(kv_secret_get "$BACKEND_KEY_SECRET_NAME" value)"
docs="$(kv_secret_get "$DOCS_BACKEND_KEY_SECRET_NAME" value)"
api_next="$(value_or_empty "$BACKEND_KEY_SECRET_NAME-next")"
docs_next="$(value_or_empty "$DOCS_BACKEND_KEY_SECRET_NAME-next")"
[[ "$api_next" != "$api" ]] || api_next=""
[[ "$docs_next" != "$docs" ]] || docs_next=""
umask 077
runtime_config_toml "$api" "$api_next" "$docs" "$docs_next" >"$output"
chmod 600 "$output"
log "wrote $output (mode 600)"
