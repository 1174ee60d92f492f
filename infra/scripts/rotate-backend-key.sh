#!/usr/bin/env bash
# Rotates one backend credential with no failed request (docs/deploy.md, "Rotate the backend keys"):
#
#   infra/scripts/rotate-backend-key.sh api    # backend-key: the `api` API's credential
#   infra/scripts/rotate-backend-key.sh docs   # docs-backend-key: the public docs API's credential
#
# Run from the repository root after `azd up`. The component accepts a current and a next key for
# each credential (backend_key/backend_key_next, docs_backend_key/docs_backend_key_next), read from
# the SpinApp's runtime configuration Secret, which infra/hooks/lib.sh (sync_runtime_config) always
# writes from Key Vault: <secret> is the current key (the one API Management's named value follows)
# and <secret>-next, when it exists and differs, the one accepted beside it. Steps:
#
#   1. add:     a new random key N becomes <secret>-next; the pods roll (readiness-gated) and
#               accept both the old key O and N;
#   2. switch:  N becomes the current version of <secret>; API Management re-reads its Key
#               Vault-backed named value at once (refreshSecret) and the script waits until the
#               named value reports a successful fetch after the switch, then ROTATION_SETTLE_SECONDS
#               (default 60) more for every gateway instance; the pods still accept O and N;
#   3. promote: <secret>-next becomes O, so the pods roll to current N, next O (a request the
#               gateway signed with O just before still passes);
#   4. remove:  <secret>-next becomes N (equal to the current key means "no next key"): the pods
#               roll and accept N only.
#
# Every secret value goes from openssl to Key Vault and from Key Vault to the cluster through
# pipes, never through an argument or output. Do not run `azd deploy` at the same time.
# shellcheck source=../hooks/lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../hooks/lib.sh"
require_tools az azd kubectl kubelogin envsubst openssl sha256sum

case "${1:-}" in
  api) secret_var="BACKEND_KEY_SECRET_NAME" named_value="backend-key" ;;
  docs) secret_var="DOCS_BACKEND_KEY_SECRET_NAME" named_value="docs-backend-key" ;;
  *) die "usage: $0 api|docs   (which credential to rotate)" ;;
esac

set -a
# shellcheck disable=SC1090,SC1091 # the azd environment of this project, KEY="value" lines
source <(azd env get-values)
set +a
require_env AZURE_SUBSCRIPTION_ID AZURE_RESOURCE_GROUP APIM_NAME AZURE_KEY_VAULT_NAME "$secret_var" \
  SPINAPP_IMAGE INGRESS_FQDN INGRESS_TLS
secret="${!secret_var}"
next="$secret-next"
named_value_url="https://management.azure.com/subscriptions/$AZURE_SUBSCRIPTION_ID/resourceGroups/$AZURE_RESOURCE_GROUP/providers/Microsoft.ApiManagement/service/$APIM_NAME/namedValues/$named_value"
use_cluster

roll() { # <what>: writes the runtime configuration from Key Vault and waits for the new pods
  log "$1: runtime configuration and SpinApp rollout"
  sync_runtime_config
  apply_app
  wait_for_rollout
}

log "1/4 add: new key as Key Vault secret $next"
openssl rand -hex 32 | tr -d '\n' | kv_secret_set "$next"
roll "1/4 add"

log "2/4 switch: Key Vault secret $secret := $next, API Management named value $named_value refresh"
old_key="$(kv_secret_get "$secret" value)"
switched_at="$(date -u +%Y-%m-%dT%H:%M:%S)"
kv_secret_get "$next" value | tr -d '\n' | kv_secret_set "$secret"
az rest --method post --only-show-errors --output none \
  --url "$named_value_url/refreshSecret?api-version=2024-05-01"
refreshed() {
  local status
  status="$(az rest --method get --only-show-errors --output tsv \
    --url "$named_value_url?api-version=2024-05-01" \
    --query "[properties.keyVault.lastStatus.code, properties.keyVault.lastStatus.timeStampUtc] | join(' ', @)")"
  [[ "$status" == Success* && "${status#Success }" > "$switched_at" ]]
}
wait_for 600 "API Management's named value $named_value to fetch the new key" refreshed
sleep "${ROTATION_SETTLE_SECONDS:-60}"

log "3/4 promote: current $secret is the new key, $next the old one (still accepted)"
printf '%s' "$old_key" | kv_secret_set "$next"
unset old_key
roll "3/4 promote"

log "4/4 remove the old key: $next := $secret (no second key)"
kv_secret_get "$secret" value | tr -d '\n' | kv_secret_set "$next"
roll "4/4 remove"
log "$named_value rotated (config-version $CONFIG_VERSION)"
