// Custom domain in an existing Azure DNS zone (deployed into the zone's resource group): an alias A
// record that follows the ingress public IP, and DNS Zone Contributor on the zone for cert-manager's
// identity (cert-manager-identity.bicep), which writes the _acme-challenge TXT records of DNS-01.
// The zone itself (and its delegation from the parent domain) is yours: it is never created or
// deleted here.

@description('Name of the existing Azure DNS zone, e.g. example.com.')
param zoneName string

@description('Fully qualified host name inside the zone, e.g. name-api.example.com.')
param hostName string

@description('Resource id of the ingress public IP address.')
param publicIpId string

@description('Object id of cert-manager\'s identity.')
param certManagerPrincipalId string

var builtInRoles = loadJsonContent('../built-in-roles.json')
var dnsZoneContributorRoleId = builtInRoles['DNS Zone Contributor']

// The record name relative to the zone: "@" for the apex, else what precedes ".<zone>".
var relativeName = hostName == zoneName ? '@' : replace(hostName, '.${zoneName}', '')

resource zone 'Microsoft.Network/dnsZones@2018-05-01' existing = {
  name: zoneName
}

resource record 'Microsoft.Network/dnsZones/A@2018-05-01' = {
  parent: zone
  name: relativeName
  properties: {
    TTL: 300
    targetResource: {
      id: publicIpId
    }
  }
}

resource certManagerDnsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(zone.id, certManagerPrincipalId, dnsZoneContributorRoleId)
  scope: zone
  properties: {
    principalId: certManagerPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dnsZoneContributorRoleId)
  }
}

@description('FQDN of the record.')
output fqdn string = record.properties.fqdn
