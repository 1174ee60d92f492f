#!/usr/bin/env bash
# azd postdeploy hook: deploys the SpinApp in production configuration and checks it end to end
# through API Management.
#
#   1. Secret name-api-backend-key from Key Vault (value piped, never printed or passed as an
#      argument); the secret's version id goes into a pod annotation, so a new key rolls the pods.
#   2. SpinApp (variables backend_key from the Secret, api_base=/api, require_backend_key=true),
#      HorizontalPodAutoscaler, PodDisruptionBudget, NetworkPolicy, Ingress with its certificate.
#   3. Smoke test through the gateway: /public/openapi.json advertises /api, /api/generate_name
#      answers 401 without a key and 200 with the subscription key. SMOKE_TEST=false skips it.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools az kubectl kubelogin envsubst curl
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
  log "smoke test through $APIM_GATEWAY_URL"
  openapi_advertises_api() {
    curl --fail --silent --show-error --max-time 15 "$APIM_GATEWAY_URL/public/openapi.json" |
      grep --quiet '"url": *"/api"'
  }
  # API Management may still hold the previous backend state for a short while after a first deployment.
  wait_for 300 "GET /public/openapi.json through the gateway, advertising /api" openapi_advertises_api
  status="$(curl --silent --output /dev/null --write-out '%{http_code}' --max-time 15 "$APIM_GATEWAY_URL/api/generate_name")"
  [[ "$status" == 401 ]] || die "GET /api/generate_name without a subscription key answered $status, expected 401"
  subscription_key="$(az rest --method post --only-show-errors \
    --url "https://management.azure.com${APIM_SUBSCRIPTION_ID}/listSecrets?api-version=2024-05-01" \
    --query primaryKey --output tsv)"
  status="$(printf 'Ocp-Apim-Subscription-Key: %s\n' "$subscription_key" |
    curl --silent --output /dev/null --write-out '%{http_code}' --max-time 15 --header @- \
      "$APIM_GATEWAY_URL/api/generate_name?starts_with=N")"
  unset subscription_key
  [[ "$status" == 200 ]] || die "GET /api/generate_name with the subscription key answered $status, expected 200"
  log "smoke test passed"
fi

cat >&2 <<MSG

  docs (no key):  ${APIM_DOCS_URL:-$APIM_GATEWAY_URL/public/docs}
  API (key):      $APIM_GATEWAY_URL/api/generate_name?starts_with=N
  subscription key: az rest --method post --url "https://management.azure.com${APIM_SUBSCRIPTION_ID}/listSecrets?api-version=2024-05-01" --query primaryKey --output tsv
MSG
