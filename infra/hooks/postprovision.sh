#!/usr/bin/env bash
# azd postprovision hook: installs SpinKube and the ingress controller on the AKS cluster that
# infra/main.bicep created. Idempotent (helm upgrade --install, kubectl apply): safe to re-run with
# `azd hooks run postprovision`.
#
#   cert-manager           TLS for the spin-operator's webhooks and the ingress certificate
#                          (workload identity label for the DNS-01 issuer of a custom domain)
#   runtime-class-manager  installs containerd-shim-spin on nodes labelled spin=true (the Shim
#                          resource), labelling each spin-v2=provisioned once done; the RuntimeClass
#                          wasmtime-spin-v2 schedules only onto such nodes (runtime-class.yaml)
#   spin-operator          CRDs (SpinApp, SpinAppExecutor) and the operator
#   traefik                ingress controller on the static public IP of ingress-ip.bicep
#   issuers, namespace     cert-manager ClusterIssuers, the app namespace and its SpinAppExecutor
#
# Versions are pinned here; upgrade them together (see docs/deploy.md).
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CERT_MANAGER_VERSION="v1.20.0"
RUNTIME_CLASS_MANAGER_VERSION="0.2.0"
SPIN_OPERATOR_VERSION="0.6.1"
TRAEFIK_CHART_VERSION="41.3.0"
# Let's Encrypt production; set ACME_SERVER to the staging directory while experimenting
# (https://acme-staging-v02.api.letsencrypt.org/directory: untrusted certificates, high limits).
ACME_SERVER="${ACME_SERVER:-https://acme-v02.api.letsencrypt.org/directory}"

require_tools az kubectl kubelogin helm envsubst
require_env AZURE_RESOURCE_GROUP INGRESS_PUBLIC_IP_NAME INGRESS_FQDN INGRESS_ACME_CHALLENGE
use_cluster

log "waiting for the spin node pool"
wait_for 900 "a Ready node labelled spin=true" \
  kubectl wait node --selector spin=true --for condition=Ready --timeout 10s

log "cert-manager $CERT_MANAGER_VERSION"
helm repo add jetstack https://charts.jetstack.io --force-update >/dev/null
helm upgrade --install cert-manager jetstack/cert-manager \
  --namespace cert-manager --create-namespace --version "$CERT_MANAGER_VERSION" \
  --values "$REPO_ROOT/infra/helm/cert-manager-values.yaml" --wait --timeout 10m

log "runtime-class-manager $RUNTIME_CLASS_MANAGER_VERSION and the containerd-shim-spin Shim"
helm upgrade --install runtime-class-manager oci://ghcr.io/spinframework/charts/runtime-class-manager \
  --namespace runtime-class-manager --create-namespace --version "$RUNTIME_CLASS_MANAGER_VERSION" \
  --wait --timeout 10m
apply_server_side --filename "$K8S_DIR/platform/shim-spin.yaml"
apply_server_side --filename "$K8S_DIR/platform/runtime-class.yaml"
# runtime-class-manager labels a node spin-v2=provisioned when its install job has completed.
shim_installed() {
  local provisioned wanted
  provisioned="$(kubectl get nodes --selector spin=true,spin-v2=provisioned --no-headers | wc -l)"
  wanted="$(kubectl get nodes --selector spin=true --no-headers | wc -l)"
  ((wanted > 0 && provisioned >= wanted))
}
wait_for 900 "containerd-shim-spin on every spin node (label spin-v2=provisioned)" shim_installed

log "spin-operator $SPIN_OPERATOR_VERSION"
apply_server_side \
  --filename "https://github.com/spinframework/spin-operator/releases/download/v$SPIN_OPERATOR_VERSION/spin-operator.crds.yaml"
helm upgrade --install spin-operator oci://ghcr.io/spinframework/charts/spin-operator \
  --namespace spin-operator --create-namespace --version "$SPIN_OPERATOR_VERSION" \
  --wait --timeout 10m

log "traefik $TRAEFIK_CHART_VERSION on $INGRESS_FQDN"
helm repo add traefik https://traefik.github.io/charts --force-update >/dev/null
render "$REPO_ROOT/infra/helm/traefik-values.yaml" AZURE_RESOURCE_GROUP INGRESS_PUBLIC_IP_NAME |
  helm upgrade --install traefik traefik/traefik \
    --namespace traefik --create-namespace --version "$TRAEFIK_CHART_VERSION" \
    --values - --wait --timeout 10m
wait_for 600 "the ingress load balancer on the static public IP" \
  kubectl --namespace traefik get service traefik --output jsonpath='{.status.loadBalancer.ingress[0].ip}'

log "cert-manager issuers, namespace name-api, SpinAppExecutor"
render "$K8S_DIR/platform/cluster-issuers.yaml" ACME_SERVER | apply_server_side --filename -
if [[ "${INGRESS_ACME_CHALLENGE:-http01}" == "dns01" ]]; then
  require_env AZURE_SUBSCRIPTION_ID DNS_ZONE_NAME DNS_ZONE_RESOURCE_GROUP CERT_MANAGER_CLIENT_ID
  issuer="$(render "$K8S_DIR/platform/cluster-issuer-dns01.yaml" ACME_SERVER DNS_ZONE_NAME DNS_ZONE_RESOURCE_GROUP AZURE_SUBSCRIPTION_ID CERT_MANAGER_CLIENT_ID)"
  printf '%s\n' "$issuer" | apply_server_side --filename -
fi
apply_server_side --filename "$K8S_DIR/app/namespace.yaml"
apply_server_side --filename "$K8S_DIR/app/spinappexecutor.yaml"

log "cluster ready for the SpinApp (azd deploy runs infra/hooks/predeploy.sh and postdeploy.sh)"
