// Azure Container Registry for the Spin application, pushed as an OCI artifact with
// `spin registry push` (infra/hooks/predeploy.sh). AKS pulls it with its kubelet identity (AcrPull,
// granted in aks.bicep); no admin user, no anonymous pull.

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@minLength(5)
@maxLength(50)
@description('Globally unique, alphanumeric name of the registry.')
param name string

@allowed([
  'Basic'
  'Standard'
  'Premium'
])
@description('Registry tier. Basic is enough for one small artifact; Premium adds private endpoints, geo-replication, retention and content trust.')
param sku string = 'Basic'

@description('Object id of the deployer, granted AcrPush. Empty: none.')
param principalId string

@description('Principal type of principalId.')
param principalType string

// Built-in roles by name (infra/built-in-roles.json, the one role table of the deployment;
// tests/infra/check_infra.py checks each name and GUID against Azure's list).
var builtInRoles = loadJsonContent('../built-in-roles.json')
var acrPushRoleId = builtInRoles.AcrPush

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  // checkov:skip=CKV_AZURE_139: public endpoint on purpose: private endpoints need the Premium tier and a virtual network; pushes and pulls are Microsoft Entra authenticated (no admin user, no anonymous pull).
  // checkov:skip=CKV_AZURE_163: Microsoft Defender for container registries is a subscription-level plan, not part of this template.
  // checkov:skip=CKV_AZURE_166: quarantine needs the Premium tier.
  // checkov:skip=CKV_AZURE_233: zone redundancy needs the Premium tier.
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
  }
  properties: {
    adminUserEnabled: false
    // No anonymousPullEnabled: the property does not exist at API version 2023-07-01 (Bicep
    // BCP037, found by tests/infra/check_infra.py's bicep-types check). Anonymous pull is off
    // unless enabled (Microsoft Learn, "Make your container registry content publicly
    // available": by default only authenticated users pull) and exists only on Standard/Premium.
    publicNetworkAccess: 'Enabled'
  }
}

resource deployerAcrPush 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(principalId)) {
  name: guid(registry.id, principalId, acrPushRoleId)
  scope: registry
  properties: {
    principalId: principalId
    principalType: principalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPushRoleId)
  }
}

@description('Name of the registry.')
output name string = registry.name

@description('Login server, e.g. crxxxx.azurecr.io.')
output loginServer string = registry.properties.loginServer
