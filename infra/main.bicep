// name-api on Azure: resource group, monitoring, Key Vault, container registry, AKS (SpinKube is
// installed by infra/hooks/postprovision.sh), the ingress address, and API Management fronting it.
// `azd up` provisions this file (subscription scope) and runs the hooks in azure.yaml.
//
// The gateway is declared once, in infra/apim/ (API definitions, policy XML, backend, named
// values), and read both by this template (loadJsonContent / loadTextContent below) and by the
// local emulator (tools/apim-emulator). tests/infra/check_infra.py checks that the two lists of
// files are the same.
//
// Syntax note: no Bicep compiler runs offline here, so every .bicep file under infra/ is parsed in
// CI by two independent parsers (pycep-parser and tree-sitter-bicep). Both reject some newer
// syntax, so these files avoid it on purpose: the spread operator `{ ...x }`, `.bicepparam` files
// (parameters are in main.parameters.json), decorators inside `type` blocks, `@sealed()`, user
// defined types and `resourceInput<>`/`resourceOutput<>` type expressions.

targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(40)
@description('Name of the azd environment (AZURE_ENV_NAME). Names the resource group and tags every resource with azd-env-name.')
param environmentName string

@minLength(1)
@description('Azure region for every resource (AZURE_LOCATION). API Management Consumption/BasicV2 and AKS must both be offered there.')
param location string

@description('Object id of the identity running azd (AZURE_PRINCIPAL_ID). It receives the data-plane roles the deployment hooks need: AKS RBAC Cluster Admin, Key Vault Secrets Officer and AcrPush. Empty: no role assignments for the deployer.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
])
@description('Kind of principal behind principalId: User for an interactive `azd up`, ServicePrincipal in CI (a service principal or managed identity). infra/hooks/preprovision.sh derives it from the signed-in account (AZURE_PRINCIPAL_TYPE).')
param principalType string = 'User'

@allowed([
  'Consumption'
  'Developer'
  'Basic'
  'Standard'
  'Premium'
  'BasicV2'
  'StandardV2'
])
@description('API Management pricing tier. Consumption (default) is billed per call and has no built-in cache, so the docs cache in infra/apim/policies/public.xml is a no-op there; BasicV2 or StandardV2 give the built-in cache and a fixed monthly price. Developer has no SLA.')
param apimSku string = 'Consumption'

@minLength(3)
@description('E-mail address of the API publisher: API Management sends system notifications there. azd asks for it once and keeps it in the environment.')
param apimPublisherEmail string

@description('Organisation name shown as the API publisher.')
param apimPublisherName string = 'name-api'

@minValue(0)
@maxValue(100)
@description('Percentage of gateway requests sent to Application Insights (headers and bodies are never logged). Lower it for high traffic to limit ingestion cost.')
param apimSamplingPercentage int = 100

@allowed([
  'Free'
  'Standard'
])
@description('AKS control plane tier: Free (no SLA, default) or Standard (financially backed SLA, billed per cluster hour).')
param aksSkuTier string = 'Free'

@description('Kubernetes version of the cluster; empty takes the region default. Auto-upgrade follows the patch channel.')
param kubernetesVersion string = ''

@description('VM size of the system node pool (tainted CriticalAddonsOnly: only system add-ons run there).')
param systemNodeVmSize string = 'Standard_D2s_v5'

@minValue(1)
@maxValue(5)
@description('Number of nodes in the system node pool.')
param systemNodeCount int = 1

@description('VM size of the `spin` user node pool, where runtime-class-manager installs containerd-shim-spin and the SpinApp, the operators and the ingress controller run.')
param spinNodeVmSize string = 'Standard_D2s_v5'

@minValue(1)
@maxValue(100)
@description('Minimum node count of the `spin` pool (cluster autoscaler lower bound).')
param spinNodeMinCount int = 1

@minValue(1)
@maxValue(100)
@description('Maximum node count of the `spin` pool (cluster autoscaler upper bound): the HPA adds pods, the cluster autoscaler adds nodes for them.')
param spinNodeMaxCount int = 3

@description('CIDR ranges allowed to reach the AKS API server, e.g. your office or CI egress addresses. Empty: reachable from anywhere (still behind Microsoft Entra ID authentication, local accounts are disabled).')
param apiServerAuthorizedIpRanges array = []

@description('Send AKS container logs and metrics to the Log Analytics workspace (Container Insights, Microsoft Entra authentication through a data collection rule).')
param enableContainerInsights bool = true

@allowed([
  'letsencrypt'
  'selfsigned'
])
@description('TLS of the ingress that API Management calls: letsencrypt (default) gets a publicly trusted certificate through cert-manager (HTTP-01 on the cloudapp.azure.com name, or DNS-01 through Azure DNS with customDomain) and the API Management backend validates chain and name; selfsigned needs no outside CA, and the backend then skips certificate validation (traffic stays encrypted, but the ingress is not authenticated).')
param ingressTls string = 'letsencrypt'

@description('Host name of the ingress in a zone you own in Azure DNS, e.g. name-api.example.com (INGRESS_CUSTOM_DOMAIN). The deployment points an A record at the ingress address, and cert-manager gets the certificate with a DNS-01 challenge through Azure DNS (workload identity). Recommended with letsencrypt: certificates for *.cloudapp.azure.com all count against one Let\'s Encrypt limit shared by every Azure customer. Empty: the <label>.<region>.cloudapp.azure.com name and HTTP-01.')
param customDomain string = ''

@description('Azure DNS zone that holds customDomain, e.g. example.com (DNS_ZONE_NAME). Required with customDomain.')
param dnsZoneName string = ''

@description('Resource group of dnsZoneName in this subscription (DNS_ZONE_RESOURCE_GROUP). Required with customDomain.')
param dnsZoneResourceGroup string = ''

@description('Public IPv4 addresses or CIDR ranges, comma-separated, allowed through the Key Vault firewall (KEY_VAULT_ALLOWED_IPS): the machine or CI runner that runs azd, whose hooks read and write the backend keys. The firewall otherwise admits only trusted Microsoft services (API Management) and Azure Resource Manager.')
param keyVaultAllowedIps string = ''

@minValue(7)
@maxValue(730)
@description('Retention of the Log Analytics workspace, in days.')
param logRetentionDays int = 30

@description('Enable purge protection on the Key Vault. Recommended for long-lived environments; it also means `azd down --purge` cannot purge the vault and its name stays reserved for the retention period.')
param keyVaultPurgeProtection bool = false

@description('True when the backend-key secret already exists in the Key Vault; set by infra/hooks/preprovision.sh through BACKEND_KEY_EXISTS. The existing key is then kept (re-provisioning never rotates it) and backendKeyInitial is not used.')
param backendKeyExists bool = false

@description('True when the docs-backend-key secret already exists in the Key Vault (DOCS_BACKEND_KEY_EXISTS, set by infra/hooks/preprovision.sh); docsBackendKeyInitial is then not used.')
param docsBackendKeyExists bool = false

// The initial backend key is generated by Azure Resource Manager at deployment time: newGuid() is
// only allowed in a parameter default, and each call yields a random (version 4) GUID with 122
// random bits. Two of them without hyphens give 64 hexadecimal characters and 244 random bits. The
// value never appears in a file, an output or the azd environment: it goes straight into Key
// Vault, where the hooks read it. A deploymentScript could generate it as well, but would add a
// storage account and a container instance to every deployment for no gain.
@secure()
@description('Initial value of the backend key, used only when the Key Vault secret does not exist yet. Leave the default: it is generated per deployment from two newGuid() values, never a literal.')
// checkov:skip=CKV_AZURE_131: the default is an expression evaluated per deployment (newGuid), not a hardcoded value; CKV_NAMEAPI_6 fails any @secure() parameter whose default is a literal.
param backendKeyInitial string = replace('${newGuid()}${newGuid()}', '-', '')

@secure()
@description('Initial value of the docs backend key (the public docs API\'s credential), used only when its Key Vault secret does not exist yet. Leave the default: generated like backendKeyInitial, independently of it.')
// checkov:skip=CKV_AZURE_131: the default is an expression evaluated per deployment (newGuid), not a hardcoded value; CKV_NAMEAPI_5 fails any @secure() parameter whose default is a literal.
param docsBackendKeyInitial string = replace('${newGuid()}${newGuid()}', '-', '')

// ---------------------------------------------------------------------------------------------
// The gateway declarations, shared with tools/apim-emulator. Keep these paths literal: Bicep
// reads them at compile time, and tests/infra/check_infra.py compares them with the files the
// emulator reads (tools/apim-emulator/src/declarations.rs) and with the policyFile / openApiFile
// fields of the API declarations.
// ---------------------------------------------------------------------------------------------

var apiDeclaration = loadJsonContent('apim/apis/api.json')
var publicDeclaration = loadJsonContent('apim/apis/public.json')
var apiPolicyXml = loadTextContent('apim/policies/api.xml')
var publicPolicyXml = loadTextContent('apim/policies/public.xml')
var backendDeclarations = loadJsonContent('apim/backends.json')
var namedValueDeclarations = loadJsonContent('apim/named-values.json')
var openApiDocument = loadTextContent('../static-docs/openapi.json')

// The Key Vault secrets behind the `backend-key` and `docs-backend-key` named values (their
// keyVaultSecretName in named-values.json; check_infra.py checks that they agree).
var backendKeySecretName = 'backend-key'
var docsBackendKeySecretName = 'docs-backend-key'

// Comma-separated, no spaces (azd environment values are strings).
var keyVaultAllowedIpRanges = empty(keyVaultAllowedIps) ? [] : split(keyVaultAllowedIps, ',')
var useCustomDomain = !empty(customDomain)
// The host API Management calls and the certificate names: the custom domain, or the public IP's
// <label>.<region>.cloudapp.azure.com name.
var ingressHost = useCustomDomain ? customDomain : ingressAddress.outputs.fqdn

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'name-api'
}

// ---------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  scope: rg
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${resourceToken}'
    appInsightsName: 'appi-${resourceToken}'
    retentionInDays: logRetentionDays
  }
}

module keyVault 'modules/keyvault.bicep' = {
  scope: rg
  name: 'keyvault'
  params: {
    location: location
    tags: tags
    name: 'kv-${resourceToken}'
    purgeProtection: keyVaultPurgeProtection
    backendKeySecretName: backendKeySecretName
    docsBackendKeySecretName: docsBackendKeySecretName
    createBackendKeySecret: !backendKeyExists
    createDocsBackendKeySecret: !docsBackendKeyExists
    backendKeyValue: backendKeyInitial
    docsBackendKeyValue: docsBackendKeyInitial
    allowedIpRanges: keyVaultAllowedIpRanges
    principalId: principalId
    principalType: principalType
  }
}

module registry 'modules/registry.bicep' = {
  scope: rg
  name: 'registry'
  params: {
    location: location
    tags: tags
    name: 'cr${resourceToken}'
    principalId: principalId
    principalType: principalType
  }
}

module ingressAddress 'modules/ingress-ip.bicep' = {
  scope: rg
  name: 'ingress-ip'
  params: {
    location: location
    tags: tags
    name: 'pip-ingress-${resourceToken}'
    dnsLabel: 'name-api-${resourceToken}'
  }
}

module aks 'modules/aks.bicep' = {
  scope: rg
  name: 'aks'
  params: {
    location: location
    tags: tags
    name: 'aks-${resourceToken}'
    skuTier: aksSkuTier
    kubernetesVersion: kubernetesVersion
    systemNodeVmSize: systemNodeVmSize
    systemNodeCount: systemNodeCount
    spinNodeVmSize: spinNodeVmSize
    spinNodeMinCount: spinNodeMinCount
    spinNodeMaxCount: spinNodeMaxCount
    apiServerAuthorizedIpRanges: apiServerAuthorizedIpRanges
    enableContainerInsights: enableContainerInsights
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    registryName: registry.outputs.name
    principalId: principalId
    principalType: principalType
  }
}

// Custom domain (optional): an identity cert-manager uses through workload identity to answer
// DNS-01 challenges in the Azure DNS zone, and the A record of the custom host name.
module certManagerIdentity 'modules/cert-manager-identity.bicep' = if (useCustomDomain) {
  scope: rg
  name: 'cert-manager-identity'
  params: {
    location: location
    tags: tags
    name: 'id-cert-manager-${resourceToken}'
    oidcIssuerUrl: aks.outputs.oidcIssuerUrl
  }
}

module customDomainRecord 'modules/dns-record.bicep' = if (useCustomDomain) {
  scope: resourceGroup(useCustomDomain ? dnsZoneResourceGroup : rg.name)
  name: 'dns-${resourceToken}'
  params: {
    zoneName: dnsZoneName
    hostName: customDomain
    publicIpId: ingressAddress.outputs.id
    certManagerPrincipalId: useCustomDomain ? certManagerIdentity.outputs.principalId : ''
  }
}

module apim 'modules/apim.bicep' = {
  scope: rg
  name: 'apim'
  params: {
    location: location
    tags: tags
    name: 'apim-${resourceToken}'
    sku: apimSku
    publisherEmail: apimPublisherEmail
    publisherName: apimPublisherName
    appInsightsName: monitoring.outputs.appInsightsName
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    samplingPercentage: apimSamplingPercentage
    keyVaultName: keyVault.outputs.name
    productName: 'name-api'
    productDisplayName: 'Name API'
  }
}

// Named values and backend entities, after the cluster: by then the gateway identity's Key Vault
// role (apim.bicep) has had the minutes it takes to propagate (apim-gateway.bicep).
module apimGateway 'modules/apim-gateway.bicep' = {
  scope: rg
  name: 'apim-gateway'
  params: {
    apimName: apim.outputs.name
    keyVaultName: keyVault.outputs.name
    namedValueDeclarations: namedValueDeclarations
    backendDeclarations: backendDeclarations
    backendHost: ingressHost
    validateBackendCertificate: ingressTls == 'letsencrypt'
  }
  dependsOn: [
    aks
  ]
}

module apiApi 'modules/apim-api.bicep' = {
  scope: rg
  name: 'apim-api-${apiDeclaration.name}'
  params: {
    apimName: apim.outputs.name
    declaration: apiDeclaration
    policyXml: apiPolicyXml
    openApiDocument: openApiDocument
    serviceUrl: apimGateway.outputs.backendUrl
    productName: apim.outputs.productName
  }
}

module publicApi 'modules/apim-api.bicep' = {
  scope: rg
  name: 'apim-api-${publicDeclaration.name}'
  params: {
    apimName: apim.outputs.name
    declaration: publicDeclaration
    policyXml: publicPolicyXml
    openApiDocument: ''
    serviceUrl: apimGateway.outputs.backendUrl
    productName: apim.outputs.productName
  }
}

// ---------------------------------------------------------------------------------------------
// Outputs: azd stores them in the environment (.azure/<env>/.env); the hooks read them.
// No secret is an output: the subscription key is read with `az rest` (see README).
// ---------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_AKS_CLUSTER_NAME string = aks.outputs.name
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output BACKEND_KEY_SECRET_NAME string = backendKeySecretName
output DOCS_BACKEND_KEY_SECRET_NAME string = docsBackendKeySecretName
output INGRESS_FQDN string = ingressHost
output INGRESS_CLOUDAPP_FQDN string = ingressAddress.outputs.fqdn
output INGRESS_ACME_CHALLENGE string = useCustomDomain ? 'dns01' : 'http01'
output CERT_MANAGER_CLIENT_ID string = useCustomDomain ? certManagerIdentity.outputs.clientId : ''
output DNS_ZONE_NAME string = dnsZoneName
output DNS_ZONE_RESOURCE_GROUP string = dnsZoneResourceGroup
output INGRESS_PUBLIC_IP_NAME string = ingressAddress.outputs.name
output INGRESS_TLS string = ingressTls
output APIM_NAME string = apim.outputs.name
output APIM_GATEWAY_URL string = apim.outputs.gatewayUrl
output APIM_DOCS_URL string = '${apim.outputs.gatewayUrl}/${publicDeclaration.path}/docs'
output APIM_API_URL string = '${apim.outputs.gatewayUrl}/${apiDeclaration.path}/generate_name'
output APIM_SUBSCRIPTION_ID string = apim.outputs.subscriptionId
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.appInsightsName
