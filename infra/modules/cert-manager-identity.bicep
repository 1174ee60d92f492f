// The identity cert-manager uses to answer ACME DNS-01 challenges in Azure DNS (custom domain):
// a user-assigned managed identity federated with cert-manager's Kubernetes service account
// through the cluster's OIDC issuer (workload identity; aks.bicep enables both). No secret
// anywhere: cert-manager's pod gets a projected token and exchanges it for this identity.
// cert-manager documents this setup: "Azure DNS", "Managed Identity Using AKS Workload Identity"
// (cert-manager.io/docs/configuration/acme/dns01/azuredns/). The role on the zone is
// dns-record.bicep's.

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the identity.')
param name string

@description('OIDC issuer URL of the AKS cluster.')
param oidcIssuerUrl string

@description('Namespace and name of cert-manager\'s controller service account (infra/hooks/postprovision.sh installs the chart as `cert-manager` in namespace `cert-manager`).')
param serviceAccount string = 'cert-manager:cert-manager'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

resource federation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: identity
  name: 'cert-manager'
  properties: {
    issuer: oidcIssuerUrl
    subject: 'system:serviceaccount:${serviceAccount}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

@description('Client id of the identity (cert-manager\'s ClusterIssuer and service account annotation).')
output clientId string = identity.properties.clientId

@description('Object id of the identity (role assignment on the DNS zone).')
output principalId string = identity.properties.principalId
