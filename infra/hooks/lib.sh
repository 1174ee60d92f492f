# shellcheck shell=bash
# Shared by the azd hooks in this folder (sourced, not run). azd runs each hook from the
# repository root with the azd environment (the outputs of infra/main.bicep, AZURE_ENV_NAME, ...)
# in its environment variables.
#
# Secrets: nothing here enables `set -x`, and secret values only travel through shell variables and
# pipes (printf is a shell builtin), never through command-line arguments or output.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck disable=SC2034 # used by the hooks that source this file
K8S_DIR="$REPO_ROOT/infra/k8s"

log() { printf '\n==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not on PATH (see docs/deploy.md, prerequisites)"
  done
}

require_env() {
  local name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || die "azd environment value $name is not set: run 'azd provision' (or 'azd up') first"
  done
}

# Renders a manifest: replaces exactly the listed ${NAME} placeholders, each of which must be set.
render() {
  local file="$1"; shift
  local name shell_format=""
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || die "cannot render $file: $name is empty"
    export "${name?}"
    shell_format+="\${$name} "
  done
  envsubst "$shell_format" <"$file"
}

# Points kubectl and helm at the cluster, through a kubeconfig kept in the azd environment
# directory (.azure/ is git-ignored by azd). Local accounts are disabled on the cluster, so the
# kubeconfig uses kubelogin with the Azure CLI's sign-in.
use_cluster() {
  require_env AZURE_ENV_NAME AZURE_RESOURCE_GROUP AZURE_AKS_CLUSTER_NAME
  export KUBECONFIG="$REPO_ROOT/.azure/$AZURE_ENV_NAME/kubeconfig"
  mkdir -p "$(dirname "$KUBECONFIG")"
  az aks get-credentials --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_AKS_CLUSTER_NAME" \
    --file "$KUBECONFIG" --overwrite-existing --only-show-errors >/dev/null
  kubelogin convert-kubeconfig --login azurecli --kubeconfig "$KUBECONFIG"
}

# Waits until a command succeeds: wait_for <seconds> <description> <command...>
wait_for() {
  local timeout="$1" what="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${timeout}s waiting for $what"
    sleep 5
  done
}

# Copies the backend key from Key Vault into the Kubernetes Secret the SpinApp reads, and sets
# BACKEND_KEY_VERSION (the secret's version id, not its value) for the SpinApp's pod annotation.
sync_backend_key_secret() {
  require_env AZURE_KEY_VAULT_NAME BACKEND_KEY_SECRET_NAME
  local secret_id backend_key
  kubectl apply --filename "$K8S_DIR/app/namespace.yaml"
  secret_id="$(az keyvault secret show --vault-name "$AZURE_KEY_VAULT_NAME" --name "$BACKEND_KEY_SECRET_NAME" \
    --query id --output tsv --only-show-errors)"
  # shellcheck disable=SC2034 # read by apply_app (render's indirect expansion)
  BACKEND_KEY_VERSION="${secret_id##*/}"
  backend_key="$(az keyvault secret show --vault-name "$AZURE_KEY_VAULT_NAME" --name "$BACKEND_KEY_SECRET_NAME" \
    --query value --output tsv --only-show-errors)"
  [[ -n "$backend_key" ]] || die "the Key Vault secret $BACKEND_KEY_SECRET_NAME is empty"
  printf '%s' "$backend_key" |
    kubectl create secret generic name-api-backend-key --namespace name-api \
      --from-file=backend_key=/dev/stdin --dry-run=client --output yaml |
    kubectl apply --filename -
}

# Applies the application manifests (infra/k8s/app) with their placeholders filled.
apply_app() {
  require_env SPINAPP_IMAGE BACKEND_KEY_VERSION INGRESS_FQDN INGRESS_TLS
  local app_dir="$K8S_DIR/app"
  # shellcheck disable=SC2034 # CLUSTER_ISSUER is read by render (indirect expansion)
  case "$INGRESS_TLS" in
    letsencrypt | selfsigned) CLUSTER_ISSUER="$INGRESS_TLS" ;;
    *) die "INGRESS_TLS must be letsencrypt or selfsigned, not '$INGRESS_TLS'" ;;
  esac
  {
    render "$app_dir/spinappexecutor.yaml"
    printf -- '---\n'
    render "$app_dir/spinapp.yaml" SPINAPP_IMAGE BACKEND_KEY_VERSION
    printf -- '---\n'
    render "$app_dir/hpa.yaml"
    printf -- '---\n'
    render "$app_dir/pdb.yaml"
    printf -- '---\n'
    render "$app_dir/networkpolicy.yaml"
    printf -- '---\n'
    render "$app_dir/ingress.yaml" INGRESS_FQDN CLUSTER_ISSUER
  } | kubectl apply --filename -
}
