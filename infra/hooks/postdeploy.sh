#!/usr/bin/env bash
# azd postdeploy hook: deploys the SpinApp in production configuration and checks it end to end
# through API Management.
#
#   1. Secret name-api-backend-key from Key Vault (value piped, never printed or passed as an
#      argument); the secret's version id goes into a pod annotation, so a new key rolls the pods.
#   2. SpinApp (variables backend_key from the Secret, api_base=/api, require_backend_key=true),
#      HorizontalPodAutoscaler, PodDisruptionBudget, NetworkPolicy, Ingress with its certificate.
#   3. The gateway contract suite through API Management (`cargo xtask verify`, both subscription
#      keys, passed in the environment): a table, and a JSON report in target/verify-report.json.
#      VERIFY_RATE_LIMIT=true adds the 429 check (it uses up a minute of calls); SMOKE_TEST=false
#      skips the suite.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools az kubectl kubelogin envsubst curl cargo
require_env SPINAPP_IMAGE AZURE_KEY_VAULT_NAME BACKEND_KEY_SECRET_NAME INGRESS_FQDN INGRESS_TLS \
  APIM_GATEWAY_URL APIM_SUBSCRIPTION_ID
use_cluster

log "backend key: Key Vault $AZURE_KEY_VAULT_NAME -> Secret name-api/name-api-backend-key"
sync_backend_key_secret
log "SpinApp $SPINAPP_IMAGE"
apply_app

NAMESPACE="name-api"
wait_for 300 "the Deployment the spin-operator creates" \
  kubectl --namespace "$NAMESPACE" get deployment name-api
kubectl --namespace "$NAMESPACE" rollout status deployment/name-api --timeout 10m
kubectl --namespace "$NAMESPACE" wait certificate/name-api-tls --for condition=Ready --timeout 10m

if [[ "${SMOKE_TEST:-true}" == "true" ]]; then
  log "gateway contract suite through $APIM_GATEWAY_URL"
  openapi_advertises_api() {
    curl --fail --silent --show-error --max-time 15 "$APIM_GATEWAY_URL/public/openapi.json" |
      grep --quiet '"url": *"/api"'
  }
  # API Management may still hold the previous backend state for a short while after a first deployment.
  wait_for 300 "GET /public/openapi.json through the gateway, advertising /api" openapi_advertises_api
  keys="$(az rest --method post --only-show-errors \
    --url "https://management.azure.com${APIM_SUBSCRIPTION_ID}/listSecrets?api-version=2024-05-01" \
    --query '[primaryKey, secondaryKey]' --output tsv)"
  rate_limit=()
  [[ "${VERIFY_RATE_LIMIT:-false}" == "true" ]] && rate_limit=(--rate-limit)
  (cd "$(dirname "${BASH_SOURCE[0]}")/../.." &&
    APIM_SUBSCRIPTION_KEY="$(sed -n 1p <<<"$keys")" APIM_SUBSCRIPTION_KEY_SECONDARY="$(sed -n 2p <<<"$keys")" \
      cargo xtask verify --gateway "$APIM_GATEWAY_URL" --report target/verify-report.json "${rate_limit[@]}") ||
    die "the gateway contract suite failed (table above, report in target/verify-report.json)"
  unset keys
  log "gateway contract suite passed"
fi

cat >&2 <<MSG

  docs (no key):  ${APIM_DOCS_URL:-$APIM_GATEWAY_URL/public/docs}
  API (key):      $APIM_GATEWAY_URL/api/generate_name?starts_with=N
  subscription key: az rest --method post --url "https://management.azure.com${APIM_SUBSCRIPTION_ID}/listSecrets?api-version=2024-05-01" --query primaryKey --output tsv
MSG
