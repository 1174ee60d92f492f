# shellcheck shell=bash
# Shared by the azd hooks in this folder (sourced, not run). azd runs each hook from the
# repository root with the azd environment (the outputs of infra/main.bicep, AZURE_ENV_NAME, ...)
# in its environment variables.
#
# Secrets: nothing here enables `set -x`, and secret values only travel through shell variables,
# function arguments and pipes (printf is a shell builtin), never through a program's command-line
# arguments, an annotation (every kubectl apply is server-side: no last-applied-configuration
# copy) or output. tests/infra/deploy_checks.py checks these rules.

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
# directory. .azure/ holds it and azd's .env: the repository's .gitignore ignores .azure/ (azd adds
# that line only with `azd init`, not with `azd env new`). Local accounts are disabled on the
# cluster, so the kubeconfig uses kubelogin with the Azure CLI's sign-in.
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

# Server-side apply (kubectl apply --server-side): the API server merges the object and records
# field ownership in managedFields, and no kubectl.kubernetes.io/last-applied-configuration
# annotation is written, which for a Secret would be a second, annotation-readable copy of its data.
apply_server_side() {
  kubectl apply --server-side --field-manager name-api-deploy --force-conflicts "$@"
}

# --- Key Vault ------------------------------------------------------------------------------------

# Stops with what to do after a failed Key Vault call: kv_fail <file with az's stderr> <what>.
# Only az's error text is shown; it never contains a secret value.
kv_fail() {
  local address
  if grep -q -e 'ForbiddenByFirewall' -e 'Client address is not authorized' "$1"; then
    address="$(sed -n 's/.*Client address: *\([0-9a-fA-F.:]*\).*/\1/p' "$1" | head -n 1)"
    rm -f "$1"
    die "the Key Vault firewall refused $2 from this machine${address:+ (address $address)}. Allow it:
  azd env set KEY_VAULT_ALLOWED_IPS ${address:-<this machine public IPv4>}   (comma-separated, no spaces)
  azd provision
then run the step again (docs/deploy.md)."
  fi
  local message
  message="$(tr '\n' ' ' <"$1")"
  rm -f "$1"
  die "$2 failed: $message"
}

# kv_secret_exists <name>: true when the secret exists, false when Key Vault answers SecretNotFound
# (and only then); any other error (expired sign-in, network, permission, firewall) stops here,
# because "absent" would make the deployment generate a new key.
kv_secret_exists() {
  require_env AZURE_KEY_VAULT_NAME
  local errors status=0
  errors="$(mktemp)"
  az keyvault secret show --vault-name "$AZURE_KEY_VAULT_NAME" --name "$1" --query id --output tsv \
    --only-show-errors >/dev/null 2>"$errors" || status=$?
  if ((status == 0)); then
    rm -f "$errors"
    return 0
  fi
  if grep -q 'SecretNotFound' "$errors"; then
    rm -f "$errors"
    return 1
  fi
  kv_fail "$errors" "reading Key Vault secret $1 in $AZURE_KEY_VAULT_NAME"
}

# kv_secret_get <name> <value|id>: prints the field of the current version (capture it with $(...)).
kv_secret_get() {
  require_env AZURE_KEY_VAULT_NAME
  local errors status=0
  errors="$(mktemp)"
  az keyvault secret show --vault-name "$AZURE_KEY_VAULT_NAME" --name "$1" --query "$2" --output tsv \
    --only-show-errors 2>"$errors" || status=$?
  ((status == 0)) || kv_fail "$errors" "reading Key Vault secret $1 in $AZURE_KEY_VAULT_NAME"
  rm -f "$errors"
}

# kv_secret_set <name>: stores stdin as a new version of the secret (the value never becomes an
# argument: az reads it from /dev/stdin).
kv_secret_set() {
  require_env AZURE_KEY_VAULT_NAME
  local errors status=0
  errors="$(mktemp)"
  az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name "$1" --file /dev/stdin \
    --encoding utf-8 --content-type text/plain --query id --output tsv --only-show-errors \
    >/dev/null 2>"$errors" || status=$?
  ((status == 0)) || kv_fail "$errors" "writing Key Vault secret $1 in $AZURE_KEY_VAULT_NAME"
  rm -f "$errors"
}

# --- The SpinApp's runtime configuration -----------------------------------------------------------

# Production values of the component's non-secret variables. api_base is the `api` API's path
# (infra/apim/apis/api.json; tests/infra/deploy_checks.py checks they agree).
API_BASE="/api"
REQUIRE_BACKEND_KEY="true"
RUNTIME_CONFIG_SECRET="name-api-runtime-config"

# runtime_config_toml <backend_key> <backend_key_next> <docs_backend_key> <docs_backend_key_next>:
# prints Spin's runtime configuration with the static variables provider answering every variable
# of the component (spin.toml), so that no variable read reaches Spin's environment provider (about
# 25 ms per read; issue 8). Keys must be TOML-safe ([A-Za-z0-9_-], at least 32 characters; empty for
# "no next key"). An empty backend key with require_backend_key=true makes the component fail
# closed (503), so empty current keys are refused here.
runtime_config_toml() {
  local name value index=0 pattern='^[A-Za-z0-9_-]{32,}$'
  local -a names=(backend_key backend_key_next docs_backend_key docs_backend_key_next)
  for value in "$@"; do
    name="${names[index]}"
    index=$((index + 1))
    if [[ -z "$value" && "$name" == *_next ]]; then
      continue
    fi
    [[ "$value" =~ $pattern ]] ||
      die "the value for $name is not at least 32 characters of A-Z a-z 0-9 _ - (refusing to write it)"
  done
  ((index == 4)) || die "runtime_config_toml takes 4 values, got $index"
  printf '%s\n' \
    '# Spin runtime configuration of the name-api SpinApp, written by infra/hooks/lib.sh from Key Vault.' \
    '[[variables_provider]]' \
    'type = "static"' \
    '' \
    '[variables_provider.values]'
  printf 'backend_key = "%s"\n' "$1"
  printf 'backend_key_next = "%s"\n' "$2"
  printf 'docs_backend_key = "%s"\n' "$3"
  printf 'docs_backend_key_next = "%s"\n' "$4"
  printf 'api_base = "%s"\n' "$API_BASE"
  printf 'require_backend_key = "%s"\n' "$REQUIRE_BACKEND_KEY"
}

# Reads the two credentials (and their `-next` secrets during a rotation) from Key Vault, writes the
# Secret name-api-runtime-config (key runtime-config.toml) server-side, and sets CONFIG_VERSION: a
# hash of the Key Vault secret VERSION ids (never of a value), which goes into the SpinApp's pod
# annotation name-api/config-version, so that a changed configuration rolls the pods.
sync_runtime_config() {
  require_env AZURE_KEY_VAULT_NAME BACKEND_KEY_SECRET_NAME DOCS_BACKEND_KEY_SECRET_NAME
  local secret versions="" api="" api_next="" docs="" docs_next=""
  for secret in "$BACKEND_KEY_SECRET_NAME" "$DOCS_BACKEND_KEY_SECRET_NAME"; do
    kv_secret_exists "$secret" || die "Key Vault $AZURE_KEY_VAULT_NAME has no secret $secret: run 'azd provision' first"
    versions+="$secret=$(kv_secret_get "$secret" id);"
    if kv_secret_exists "$secret-next"; then
      versions+="$secret-next=$(kv_secret_get "$secret-next" id);"
    fi
  done
  api="$(kv_secret_get "$BACKEND_KEY_SECRET_NAME" value)"
  docs="$(kv_secret_get "$DOCS_BACKEND_KEY_SECRET_NAME" value)"
  if [[ "$versions" == *"$BACKEND_KEY_SECRET_NAME-next="* ]]; then
    api_next="$(kv_secret_get "$BACKEND_KEY_SECRET_NAME-next" value)"
  fi
  if [[ "$versions" == *"$DOCS_BACKEND_KEY_SECRET_NAME-next="* ]]; then
    docs_next="$(kv_secret_get "$DOCS_BACKEND_KEY_SECRET_NAME-next" value)"
  fi
  # A `-next` equal to the current key is the end state of a rotation: no second key.
  [[ "$api_next" != "$api" ]] || api_next=""
  [[ "$docs_next" != "$docs" ]] || docs_next=""
  [[ "$api" != "$docs" ]] || die "$BACKEND_KEY_SECRET_NAME and $DOCS_BACKEND_KEY_SECRET_NAME hold the same value: the docs credential would unlock every route"
  # shellcheck disable=SC2034 # read by apply_app (render's indirect expansion)
  CONFIG_VERSION="$(printf '%s' "$versions" | sha256sum | cut -c 1-16)"
  apply_server_side --filename "$K8S_DIR/app/namespace.yaml"
  runtime_config_toml "$api" "$api_next" "$docs" "$docs_next" |
    kubectl create secret generic "$RUNTIME_CONFIG_SECRET" --namespace name-api \
      --from-file=runtime-config.toml=/dev/stdin --dry-run=client --output yaml |
    apply_server_side --filename -
  # The Secret of earlier versions of this project (variables through the environment): unused now.
  kubectl --namespace name-api delete secret name-api-backend-key --ignore-not-found >/dev/null
}

# Applies the application manifests (infra/k8s/app) with their placeholders filled, server-side.
apply_app() {
  require_env SPINAPP_IMAGE CONFIG_VERSION INGRESS_FQDN INGRESS_TLS
  local app_dir="$K8S_DIR/app"
  # shellcheck disable=SC2034 # CLUSTER_ISSUER is read by render (indirect expansion)
  case "$INGRESS_TLS" in
    letsencrypt) CLUSTER_ISSUER="letsencrypt-${INGRESS_ACME_CHALLENGE:-http01}" ;;
    selfsigned) CLUSTER_ISSUER="selfsigned" ;;
    *) die "INGRESS_TLS must be letsencrypt or selfsigned, not '$INGRESS_TLS'" ;;
  esac
  {
    render "$app_dir/spinappexecutor.yaml"
    printf -- '---\n'
    render "$app_dir/spinapp.yaml" SPINAPP_IMAGE CONFIG_VERSION
    printf -- '---\n'
    render "$app_dir/hpa.yaml"
    printf -- '---\n'
    render "$app_dir/pdb.yaml"
    printf -- '---\n'
    render "$app_dir/networkpolicy.yaml"
    printf -- '---\n'
    render "$app_dir/ingress.yaml" INGRESS_FQDN CLUSTER_ISSUER
  } | apply_server_side --filename -
}

# Rolls the SpinApp's pods and waits until the new ones are ready (readiness probes pass) and the old
# ones are gone: after it, every serving pod has the current runtime configuration.
wait_for_rollout() {
  local namespace="name-api"
  wait_for 300 "the Deployment the spin-operator creates" kubectl --namespace "$namespace" get deployment name-api
  # The operator updates the Deployment's pod template from the SpinApp's podAnnotations.
  wait_for 120 "the Deployment to carry config-version $CONFIG_VERSION" deployment_has_config_version
  kubectl --namespace "$namespace" rollout status deployment/name-api --timeout 10m
}

deployment_has_config_version() {
  [[ "$(kubectl --namespace name-api get deployment name-api \
    --output jsonpath='{.spec.template.metadata.annotations.name-api/config-version}')" == "$CONFIG_VERSION" ]]
}
