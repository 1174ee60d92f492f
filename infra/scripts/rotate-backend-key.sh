#!/usr/bin/env bash
# Rotates the backend key (docs/deploy.md, "Rotate the backend key"):
#
#   1. a new random value becomes a new version of the Key Vault secret;
#   2. the Kubernetes Secret is updated and the SpinApp's pods roll (their annotation carries the
#      new version id);
#   3. API Management re-reads its Key Vault-backed named value at once (refreshSecret) instead of
#      within its four-hour refresh.
#
# The component accepts exactly one key, so until the rollout completes some requests meet a pod
# holding the other key and get 401 (typically tens of seconds). Run it at a quiet time.
# Usage, from the repository root after `azd up`:  infra/scripts/rotate-backend-key.sh
# shellcheck source=../hooks/lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../hooks/lib.sh"
require_tools az azd kubectl kubelogin envsubst openssl

set -a
# shellcheck disable=SC1090,SC1091 # the azd environment of this project, KEY="value" lines
source <(azd env get-values)
set +a
require_env AZURE_SUBSCRIPTION_ID AZURE_RESOURCE_GROUP APIM_NAME AZURE_KEY_VAULT_NAME BACKEND_KEY_SECRET_NAME
# The Key Vault-backed named value that holds the key (infra/apim/named-values.json).
NAMED_VALUE="backend-key"

log "new version of Key Vault secret $BACKEND_KEY_SECRET_NAME"
printf '%s' "$(openssl rand -hex 32)" |
  az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name "$BACKEND_KEY_SECRET_NAME" \
    --file /dev/stdin --encoding utf-8 --content-type text/plain --query id --output tsv --only-show-errors >/dev/null

use_cluster
log "Kubernetes Secret and SpinApp rollout"
sync_backend_key_secret
apply_app

log "API Management named value $NAMED_VALUE: refresh from Key Vault"
az rest --method post --only-show-errors --output none \
  --url "https://management.azure.com/subscriptions/$AZURE_SUBSCRIPTION_ID/resourceGroups/$AZURE_RESOURCE_GROUP/providers/Microsoft.ApiManagement/service/$APIM_NAME/namedValues/$NAMED_VALUE/refreshSecret?api-version=2024-05-01"

kubectl --namespace name-api rollout status deployment/name-api --timeout 10m
log "backend key rotated (secret version $BACKEND_KEY_VERSION)"
