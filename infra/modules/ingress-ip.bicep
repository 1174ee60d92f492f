// The public address of the cluster's ingress controller, created here (not by Kubernetes) so that
// its DNS name is known when API Management's backend is declared. The ingress controller's
// LoadBalancer service adopts it through the azure-pip-name annotation
// (infra/helm/traefik-values.yaml); aks.bicep grants the cluster identity Network Contributor on
// this resource group so that it may.

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the public IP address.')
param name string

@minLength(3)
@maxLength(63)
@description('DNS label: the address gets <label>.<region>.cloudapp.azure.com, the host name of the ingress and of the certificate.')
param dnsLabel string

resource publicIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Regional'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
    dnsSettings: {
      domainNameLabel: dnsLabel
    }
  }
}

@description('Name of the public IP address.')
output name string = publicIp.name

@description('Resource id of the public IP address (target of the custom domain\'s alias record).')
output id string = publicIp.id

@description('Fully qualified DNS name of the address.')
output fqdn string = publicIp.properties.dnsSettings.fqdn
