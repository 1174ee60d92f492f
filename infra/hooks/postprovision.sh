#!/usr/bin/env bash
# azd postprovision hook: installs SpinKube and the ingress controller on the AKS cluster that
# infra/main.bicep created. Idempotent (helm upgrade --install, kubectl apply): safe to re-run with
# `azd hooks run postprovision`.
#
#   cert-manager           TLS for the spin-operator's webhooks and the ingress certificate
#   runtime-class-manager  installs containerd-shim-spin on nodes labelled spin=true (the Shim
#                          resource) and creates the RuntimeClass wasmtime-spin-v2
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
require_env AZURE_RESOURCE_GROUP INGRESS_PUBLIC_IP_NAME INGRESS_FQDN
use_cluster

log "waiting for the spin node pool"
wait_for 900 "a Ready node labelled spin=true" \
  kubectl wait node --selector spin=true --for condition=Ready --timeout 10s

log "cert-manager $CERT_MANAGER_VERSION"
helm repo add jetstack https://charts.jetstack.io --force-update >/dev/null
helm upgrade --install cert-manager jetstack/cert-manager \
  --namespace cert-manager --create-namespace --version "$CERT_MANAGER_VERSION" \
  --set crds.enabled=true --wait --timeout 10m

log "runtime-class-manager $RUNTIME_CLASS_MANAGER_VERSION and the containerd-shim-spin Shim"
helm upgrade --install runtime-class-manager oci://ghcr.io/spinframework/charts/runtime-class-manager \
  --namespace runtime-class-manager --create-namespace --version "$RUNTIME_CLASS_MANAGER_VERSION" \
  --wait --timeout 10m
kubectl apply --filename "$K8S_DIR/platform/shim-spin.yaml"
wait_for 600 "RuntimeClass wasmtime-spin-v2" kubectl get runtimeclass wasmtime-spin-v2
shim_installed() {
  local ready wanted
  ready="$(kubectl get shim spin-v2 --output jsonpath='{.status.nodesReady}')"
  wanted="$(kubectl get nodes --selector spin=true --no-headers | wc -l)"
  [[ -n "$ready" && "$ready" -ge "$wanted" ]]
}
wait_for 900 "containerd-shim-spin on every spin node" shim_installed

log "spin-operator $SPIN_OPERATOR_VERSION"
kubectl apply --server-side --force-conflicts \
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
render "$K8S_DIR/platform/cluster-issuers.yaml" ACME_SERVER | kubectl apply --filename -
kubectl apply --filename "$K8S_DIR/app/namespace.yaml"
kubectl apply --filename "$K8S_DIR/app/spinappexecutor.yaml"

log "cluster ready for the SpinApp (azd deploy runs infra/hooks/predeploy.sh and postdeploy.sh)"
