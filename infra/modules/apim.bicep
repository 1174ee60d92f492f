// API Management: the service with its system-assigned identity and that identity's Key Vault
// role, Application Insights logging, the product that carries the subscription requirement, and
// one subscription. The named values and backend entities of infra/apim/ are
// apim-gateway.bicep, the APIs and their policies apim-api.bicep (one instance per declaration).
//
// Why the SYSTEM-assigned identity reads Key Vault: the vault's firewall denies by default
// (keyvault.bicep), and Microsoft documents for Key Vault-backed named values: "You must use the
// API Management instance's system-assigned managed identity to access the key vault. You can't use
// a user-assigned identity for access from API Management" when the Key Vault firewall is on
// (learn.microsoft.com, API Management, "Use named values", Requirements for Key Vault firewall).
// A user-assigned identity granted in an earlier module would avoid waiting for the role to
// propagate, but would not pass the firewall. The wait is handled by the order instead: main.bicep
// creates the named values only after the AKS cluster (several minutes after this grant).

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Globally unique name of the service; the gateway is https://<name>.azure-api.net.')
param name string

@allowed([
  'Consumption'
  'Developer'
  'Basic'
  'Standard'
  'Premium'
  'BasicV2'
  'StandardV2'
])
@description('Pricing tier.')
param sku string

@description('Publisher e-mail (system notifications).')
param publisherEmail string

@description('Publisher name.')
param publisherName string

@description('Name of the Application Insights component that receives gateway telemetry.')
param appInsightsName string

@description('Resource id of the Log Analytics workspace for resource logs (tiers other than Consumption).')
param logAnalyticsWorkspaceId string

@minValue(0)
@maxValue(100)
@description('Application Insights sampling percentage.')
param samplingPercentage int

@description('Name of the Key Vault holding the Key Vault-backed named values.')
param keyVaultName string

@description('Identifier of the product that groups the subscription-protected APIs.')
param productName string

@description('Display name of the product.')
param productDisplayName string

// Built-in roles by name (infra/built-in-roles.json, the one role table of the deployment;
// tests/infra/check_infra.py checks each name and GUID against Azure's list).
var builtInRoles = loadJsonContent('../built-in-roles.json')
var secretsUserRoleId = builtInRoles['Key Vault Secrets User']

resource apim 'Microsoft.ApiManagement/service@2024-05-01' = {
  // checkov:skip=CKV_AZURE_107: API Management is the public entry point of this API by design; the backend behind it requires the Key Vault-backed x-backend-key header.
  // checkov:skip=CKV_AZURE_174: public network access is left at its default (enabled): serving the public is the purpose of the gateway; VNet integration needs a higher tier.
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
    capacity: sku == 'Consumption' ? 0 : 1
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    publisherEmail: publisherEmail
    publisherName: publisherName
  }
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// The gateway identity reads secrets for the Key Vault-backed named values. Granted on this
// vault only, which holds nothing but this deployment's secrets. apim-gateway.bicep waits for it.
resource keyVaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, apim.id, secretsUserRoleId)
  scope: keyVault
  properties: {
    principalId: apim.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource logger 'Microsoft.ApiManagement/service/loggers@2024-05-01' = {
  parent: apim
  name: 'appinsights'
  properties: {
    loggerType: 'applicationInsights'
    description: 'Gateway requests to Application Insights.'
    resourceId: appInsights.id
    isBuffered: true
    credentials: {
      // Stored by API Management as a secret named value; an instrumentation key only allows
      // sending telemetry.
      instrumentationKey: appInsights.properties.InstrumentationKey
    }
  }
}

// Service-wide diagnostic: every API logs to Application Insights. No headers and no bodies are
// logged, so neither subscription keys nor the backend key can reach the telemetry.
resource diagnostic 'Microsoft.ApiManagement/service/diagnostics@2024-05-01' = {
  parent: apim
  name: 'applicationinsights'
  properties: {
    loggerId: logger.id
    alwaysLog: 'allErrors'
    httpCorrelationProtocol: 'W3C'
    verbosity: 'information'
    logClientIp: true
    metrics: true
    sampling: {
      samplingType: 'fixed'
      percentage: samplingPercentage
    }
    frontend: {
      request: {
        headers: []
        body: {
          bytes: 0
        }
      }
      response: {
        headers: []
        body: {
          bytes: 0
        }
      }
    }
    backend: {
      request: {
        headers: []
        body: {
          bytes: 0
        }
      }
      response: {
        headers: []
        body: {
          bytes: 0
        }
      }
    }
  }
}

// Resource logs (GatewayLogs) to Log Analytics. Not created on Consumption, which the
// documentation does not list for Azure Monitor resource logs; Application Insights covers it.
resource resourceLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (sku != 'Consumption') {
  name: 'gateway-to-log-analytics'
  scope: apim
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'GatewayLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

resource product 'Microsoft.ApiManagement/service/products@2024-05-01' = {
  parent: apim
  name: productName
  properties: {
    displayName: productDisplayName
    description: 'Access to the name-api API. Subscription keys go in the Ocp-Apim-Subscription-Key header or the subscription-key query parameter.'
    subscriptionRequired: true
    approvalRequired: false
    state: 'published'
  }
}

resource subscription 'Microsoft.ApiManagement/service/subscriptions@2024-05-01' = {
  parent: apim
  name: '${productName}-default'
  properties: {
    displayName: '${productDisplayName} (default subscription)'
    scope: '/products/${product.name}'
    state: 'active'
    allowTracing: false
  }
}

@description('Name of the service.')
output name string = apim.name

@description('Gateway base URL, e.g. https://apim-xxxx.azure-api.net.')
output gatewayUrl string = apim.properties.gatewayUrl

@description('Name of the Key Vault Secrets User role assignment of the gateway identity (apim-gateway.bicep waits for it).')
output keyVaultRoleAssignmentName string = keyVaultSecretsUser.name

@description('Identifier of the product.')
output productName string = product.name

@description('Resource id of the default subscription (read its keys with az rest .../listSecrets).')
output subscriptionId string = subscription.id
