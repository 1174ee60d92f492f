// The named values and backend entities of infra/apim/ (named-values.json, backends.json), the same
// files tools/apim-emulator runs. Two backend entities reach the same component with different
// credentials (least privilege, SPEC section 4): `name-api-backend` injects x-backend-key:
// {{backend-key}} for the `api` API, `name-api-docs-backend` injects {{docs-backend-key}} for the
// public docs API, which the component accepts on the docs routes only.
//
// main.bicep deploys this module after the AKS cluster: the Key Vault-backed named values need the
// gateway identity's Key Vault Secrets User role (apim.bicep) to be effective, and role assignments
// take minutes to propagate; the cluster takes longer than that to create.

@description('Name of the API Management service.')
param apimName string

@description('Name of the Key Vault holding the Key Vault-backed named values.')
param keyVaultName string

@description('Contents of infra/apim/named-values.json: entries with keyVaultSecretName become Key Vault-backed secrets (read with the service\'s system-assigned identity), the others take their value.')
param namedValueDeclarations array

@description('Contents of infra/apim/backends.json: name, description, protocol and the credentials header of each backend entity.')
param backendDeclarations array

@description('Host name of the cluster ingress (every backend is https://<backendHost>).')
param backendHost string

@description('Validate the backend certificate chain and name. True with a publicly trusted certificate.')
param validateBackendCertificate bool

resource apim 'Microsoft.ApiManagement/service@2024-05-01' existing = {
  name: apimName
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// A declaration with keyVaultSecretName references the versionless secret URI, so API Management
// follows new secret versions (it refreshes every four hours, or at once through the
// refreshSecret operation: infra/scripts/rotate-backend-key.sh). No identityClientId: the
// system-assigned identity, the only one the Key Vault firewall's trusted-services bypass admits.
resource namedValues 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = [for nv in namedValueDeclarations: {
  parent: apim
  name: nv.name
  properties: {
    displayName: nv.displayName
    secret: nv.secret
    keyVault: contains(nv, 'keyVaultSecretName') ? {
      secretIdentifier: '${keyVault.properties.vaultUri}secrets/${nv.keyVaultSecretName}'
    } : null
    value: contains(nv, 'keyVaultSecretName') ? null : nv.value
  }
}]

// Every forwarded request gets the credentials header of its backend entity, whatever the client
// sent. HTTPS to the cluster ingress.
@batchSize(1)
resource backends 'Microsoft.ApiManagement/service/backends@2024-05-01' = [for backend in backendDeclarations: {
  parent: apim
  name: backend.name
  properties: {
    description: backend.description
    protocol: backend.protocol
    url: 'https://${backendHost}'
    credentials: {
      header: backend.credentials.header
    }
    tls: {
      validateCertificateChain: validateBackendCertificate
      validateCertificateName: validateBackendCertificate
    }
  }
  dependsOn: [
    namedValues
  ]
}]

@description('URL of the backend entities (the cluster ingress).')
output backendUrl string = 'https://${backendHost}'

@description('Names of the backend entities.')
output backendNames array = [for (backend, i) in backendDeclarations: backends[i].name]
