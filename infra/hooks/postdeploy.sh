#!/usr/bin/env bash
# azd postdeploy hook: deploys the SpinApp in production configuration and checks it end to end
# through API Management. Safe to re-run: `azd hooks run postdeploy`.
#
#   1. Runtime configuration: the Secret name-api-runtime-config (Spin's static variables provider
#      with both backend credentials, from Key Vault; applied server-side, value never printed or
#      passed as an argument); the hash of the Key Vault secret versions goes into a pod annotation,
#      so a new key rolls the pods.
#   2. SpinApp (runtimeConfig.loadFromSecret, no variables), HorizontalPodAutoscaler,
#      PodDisruptionBudget, NetworkPolicy, Ingress with its certificate; waits for the rollout.
#   3. The ingress certificate. Not ready in CERT_WAIT_SECONDS (default 600): the deployment is
#      NOT failed; the hook says what cert-manager is waiting for (order, challenge, DNS or HTTP
#      reachability, a Let's Encrypt rate limit) and the one command to run later, and ends here.
#   4. Smoke test through the gateway: /public/openapi.json advertises /api, /api/generate_name
#      answers 401 without a key and 200 with the subscription key. SMOKE_TEST=false skips it.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools az kubectl kubelogin envsubst curl sha256sum
require_env SPINAPP_IMAGE AZURE_KEY_VAULT_NAME BACKEND_KEY_SECRET_NAME DOCS_BACKEND_KEY_SECRET_NAME \
  INGRESS_FQDN INGRESS_TLS APIM_GATEWAY_URL APIM_SUBSCRIPTION_ID
use_cluster

NAMESPACE="name-api"
log "runtime configuration: Key Vault $AZURE_KEY_VAULT_NAME -> Secret $NAMESPACE/$RUNTIME_CONFIG_SECRET"
sync_runtime_config
log "SpinApp $SPINAPP_IMAGE (config-version $CONFIG_VERSION)"
apply_app
wait_for_rollout

# What cert-manager reports for the certificate, its order and challenges (one line each).
certificate_state() {
  kubectl --namespace "$NAMESPACE" get certificate name-api-tls \
    --output jsonpath='certificate: {.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}{"\n"}' || true
  kubectl --namespace "$NAMESPACE" get orders.acme.cert-manager.io \
    --output jsonpath='{range .items[*]}order {.metadata.name}: {.status.state} {.status.reason}{"\n"}{end}' 2>/dev/null || true
  kubectl --namespace "$NAMESPACE" get challenges.acme.cert-manager.io \
    --output jsonpath='{range .items[*]}challenge {.spec.type} for {.spec.dnsName}: {.status.state} {.status.reason}{"\n"}{end}' 2>/dev/null || true
}
certificate_ready() {
  [[ "$(kubectl --namespace "$NAMESPACE" get certificate name-api-tls \
    --output jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == "True" ]]
}

log "ingress certificate for $INGRESS_FQDN"
deadline=$((SECONDS + ${CERT_WAIT_SECONDS:-600}))
until certificate_ready; do
  if ((SECONDS >= deadline)); then
    azd env set INGRESS_CERTIFICATE_READY false
    case "${INGRESS_ACME_CHALLENGE:-http01}" in
      dns01) waiting="Let's Encrypt to see the _acme-challenge TXT record cert-manager writes in Azure DNS zone ${DNS_ZONE_NAME:-?} (DNS propagation; the zone must be delegated from its parent domain)" ;;
      *) waiting="Let's Encrypt to fetch http://$INGRESS_FQDN/.well-known/acme-challenge/... through Traefik on port 80 (or a rate limit: every *.cloudapp.azure.com certificate counts against one limit shared by all Azure customers; a custom domain avoids it)" ;;
    esac
    [[ "$INGRESS_TLS" == "letsencrypt" ]] || waiting="cert-manager's selfsigned issuer"
    cat >&2 <<MSG

  The SpinApp is deployed, but its TLS certificate is not ready yet: waiting for $waiting.
  cert-manager keeps trying on its own; API Management cannot reach the backend until it is ready.
$(certificate_state | sed 's/^/    /')

  When it is ready (kubectl --namespace $NAMESPACE get certificate name-api-tls), finish with:
    azd hooks run postdeploy
MSG
    exit 0
  fi
  sleep 10
done
azd env set INGRESS_CERTIFICATE_READY true

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
  # The public docs API's credential must not reach the protected route, whatever the path says.
  status="$(curl --silent --output /dev/null --write-out '%{http_code}' --max-time 15 --path-as-is \
    "$APIM_GATEWAY_URL/public/docs/%2e%2e/generate_name")"
  [[ "$status" != 200 ]] || die "GET /public/docs/%2e%2e/generate_name answered 200: the docs credential reached /generate_name"
  log "smoke test passed"
fi

cat >&2 <<MSG

  docs (no key):  ${APIM_DOCS_URL:-$APIM_GATEWAY_URL/public/docs}
  API (key):      $APIM_GATEWAY_URL/api/generate_name?starts_with=N
  subscription key: az rest --method post --url "https://management.azure.com${APIM_SUBSCRIPTION_ID}/listSecrets?api-version=2024-05-01" --query primaryKey --output tsv
MSG
