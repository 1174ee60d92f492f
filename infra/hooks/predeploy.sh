#!/usr/bin/env bash
# azd predeploy hook: builds the Spin application (spin.toml's build command) and pushes it to the
# Azure Container Registry as an OCI artifact with `spin registry push`. The reference, pinned by
# digest, goes to the azd environment as SPINAPP_IMAGE for postdeploy.sh.
#
# Authentication: a short-lived ACR token from the Azure CLI's sign-in (AcrPush is granted to the
# deployer in registry.bicep), passed to `spin registry login` on stdin. `az ... --output tsv` ends
# the token with a newline, and Spin (4.0.2, `spin registry login --password-stdin`) reads stdin
# whole without trimming it: the token is captured first (command substitution drops the trailing
# newline) and written with printf, without one.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools az azd spin
require_env AZURE_CONTAINER_REGISTRY_NAME AZURE_CONTAINER_REGISTRY_ENDPOINT

cd "$REPO_ROOT" || exit
tag="${IMAGE_TAG:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo local)-$(date -u +%Y%m%d%H%M%S)}"
reference="$AZURE_CONTAINER_REGISTRY_ENDPOINT/name-api:$tag"

log "spin build"
spin build

log "spin registry login $AZURE_CONTAINER_REGISTRY_ENDPOINT"
registry_token="$(az acr login --name "$AZURE_CONTAINER_REGISTRY_NAME" --expose-token --query accessToken \
  --output tsv --only-show-errors)"
[[ -n "$registry_token" ]] || die "az acr login --expose-token returned no token"
printf '%s' "$registry_token" |
  spin registry login "$AZURE_CONTAINER_REGISTRY_ENDPOINT" \
    --username 00000000-0000-0000-0000-000000000000 --password-stdin
unset registry_token

log "spin registry push $reference"
push_output="$(spin registry push "$reference")"
printf '%s\n' "$push_output"
digest="$(printf '%s\n' "$push_output" | sed -n 's/^Pushed with digest \(sha256:[0-9a-f]\{64\}\)$/\1/p')"
if [[ -n "$digest" ]]; then
  image="$AZURE_CONTAINER_REGISTRY_ENDPOINT/name-api@$digest"
else
  warn "the registry returned no digest; deploying by tag"
  image="$reference"
fi
azd env set SPINAPP_IMAGE "$image"
log "SPINAPP_IMAGE=$image"
