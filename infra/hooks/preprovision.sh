#!/usr/bin/env bash
# azd preprovision hook: what infra/main.bicep must know before it runs, and the states a
# provisioning would fail on, each stopped here with what to run.
#
#   1. AZURE_PRINCIPAL_TYPE from the signed-in account (User, or ServicePrincipal for a service
#      principal or managed identity in CI): the deployer's role assignments need the right type.
#   2. The custom domain settings (all three or none) and the Key Vault firewall's allowed
#      addresses (KEY_VAULT_ALLOWED_IPS: the hooks' own Key Vault reads and writes need them).
#   3. A vault or API Management service of this environment soft-deleted by `azd down` without
#      --purge: re-creating the same name fails, so stop and say how to purge (or recover) it.
#   4. Whether each backend credential already exists in Key Vault (BACKEND_KEY_EXISTS,
#      DOCS_BACKEND_KEY_EXISTS), so that re-provisioning keeps it. Only Key Vault's SecretNotFound
#      means "absent"; any other error stops (otherwise the deployment would write a new key, and
#      API Management, which refreshes Key Vault values every four hours, would send the old one).
#      Reads only the secrets' ids, never their values.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools az azd

# 1. Principal type (az account show: user.type is "user" or "servicePrincipal"; a managed identity
#    sign-in reports servicePrincipal too). azd and az must be signed in as the same principal.
account_type="$(az account show --query user.type --output tsv --only-show-errors)" ||
  die "az is not signed in: run 'az login' (and 'azd auth login' as the same principal)"
case "$account_type" in
  user) principal_type="User" ;;
  servicePrincipal) principal_type="ServicePrincipal" ;;
  *) die "unexpected account type '$account_type' from 'az account show'" ;;
esac
log "deployer principal type: $principal_type"
azd env set AZURE_PRINCIPAL_TYPE "$principal_type"

# 2. Settings.
custom_domain="${INGRESS_CUSTOM_DOMAIN:-}" zone="${DNS_ZONE_NAME:-}" zone_group="${DNS_ZONE_RESOURCE_GROUP:-}"
if [[ -n "$custom_domain$zone$zone_group" ]]; then
  [[ -n "$custom_domain" && -n "$zone" && -n "$zone_group" ]] ||
    die "a custom domain needs INGRESS_CUSTOM_DOMAIN, DNS_ZONE_NAME and DNS_ZONE_RESOURCE_GROUP (azd env set ...)"
  [[ "$custom_domain" == "$zone" || "$custom_domain" == *".$zone" ]] ||
    die "INGRESS_CUSTOM_DOMAIN $custom_domain is not inside the DNS zone $zone"
  az network dns zone show --name "$zone" --resource-group "$zone_group" --query id --output tsv \
    --only-show-errors >/dev/null ||
    die "Azure DNS zone $zone not found in resource group $zone_group of this subscription"
fi
[[ -n "${KEY_VAULT_ALLOWED_IPS:-}" ]] ||
  die "KEY_VAULT_ALLOWED_IPS is not set. The Key Vault firewall denies by default; the hooks read and
write the backend keys from this machine, so allow its public IPv4 address (or your CI egress range):
  azd env set KEY_VAULT_ALLOWED_IPS <address>[,<address or CIDR>...]
(docs/deploy.md)."

# 3. Soft-deleted resources of this environment (names are outputs of an earlier provisioning).
count_matching() { # <az command ...>: prints the number of items the command lists
  "$@" --output tsv --only-show-errors
}
vault_live=0
if [[ -n "${AZURE_KEY_VAULT_NAME:-}" ]]; then
  vault_live="$(count_matching az keyvault list --resource-type vault --query "length([?name=='$AZURE_KEY_VAULT_NAME'])")" ||
    die "cannot list Key Vaults (az keyvault list)"
  if [[ "$vault_live" == 0 ]]; then
    deleted="$(count_matching az keyvault list-deleted --resource-type vault --query "length([?name=='$AZURE_KEY_VAULT_NAME'])")" ||
      die "cannot list deleted Key Vaults (az keyvault list-deleted)"
    if [[ "$deleted" != 0 ]]; then
      die "Key Vault $AZURE_KEY_VAULT_NAME was deleted (azd down without --purge) and is soft-deleted: its name is taken until purged. Either
  az keyvault purge --name $AZURE_KEY_VAULT_NAME          (the backend keys are lost; new ones are generated)
or, to keep the keys,
  az keyvault recover --name $AZURE_KEY_VAULT_NAME
then run azd provision (or azd up) again."
    fi
  fi
fi
if [[ -n "${APIM_NAME:-}" ]]; then
  live="$(count_matching az apim list --query "length([?name=='$APIM_NAME'])")" ||
    die "cannot list API Management services (az apim list)"
  if [[ "$live" == 0 ]]; then
    deleted="$(count_matching az apim deletedservice list --query "length([?name=='$APIM_NAME'])")" ||
      die "cannot list deleted API Management services (az apim deletedservice list)"
    if [[ "$deleted" != 0 ]]; then
      die "API Management service $APIM_NAME was deleted (azd down without --purge) and is soft-deleted: its name is taken until purged. Run
  az apim deletedservice purge --service-name $APIM_NAME --location ${AZURE_LOCATION:-<location>}
then azd provision (or azd up) again."
    fi
  fi
fi

# 4. Existing credentials.
backend_key_exists=false
docs_backend_key_exists=false
if [[ "$vault_live" != 0 ]]; then
  if kv_secret_exists "${BACKEND_KEY_SECRET_NAME:-backend-key}"; then backend_key_exists=true; fi
  if kv_secret_exists "${DOCS_BACKEND_KEY_SECRET_NAME:-docs-backend-key}"; then docs_backend_key_exists=true; fi
fi
log "backend keys already in Key Vault: backend-key $backend_key_exists, docs-backend-key $docs_backend_key_exists"
azd env set BACKEND_KEY_EXISTS "$backend_key_exists"
azd env set DOCS_BACKEND_KEY_EXISTS "$docs_backend_key_exists"

