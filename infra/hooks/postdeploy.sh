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
#   4. The gateway contract suite through API Management (`cargo xtask verify`, both subscription
#      keys, passed in the environment): a table, and a JSON report in target/verify-report.json.
#      VERIFY_RATE_LIMIT=true adds the 429 check (it uses up a minute of calls); SMOKE_TEST=false
#      skips the suite.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools az kubectl kubelogin envsubst curl sha256sum cargo
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
