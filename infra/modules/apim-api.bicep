// One API Management API from a declaration in infra/apim/apis/ (the same JSON the local emulator
// reads): its settings, its operations (declared, or imported from an OpenAPI document as
// API Management's import does), its policy XML, and its product link when it requires a
// subscription.

@description('Name of the API Management service.')
param apimName string

@description('API declaration (infra/apim/apis/*.json): name, displayName, description, path, subscriptionRequired, subscriptionKeyParameterNames, protocols, operations.')
param declaration object

@description('Policy document of the API (infra/apim/policies/*.xml), deployed as rawxml.')
param policyXml string

@description('OpenAPI document to import the operations from (openapi+json); empty to create the declared operations instead.')
param openApiDocument string

@description('Default backend URL of the API; the policy routes to the backend entity with set-backend-service anyway.')
param serviceUrl string

@description('Product the API joins when it requires a subscription.')
param productName string

var importsOpenApi = !empty(openApiDocument)

resource apim 'Microsoft.ApiManagement/service@2024-05-01' existing = {
  name: apimName
}

resource api 'Microsoft.ApiManagement/service/apis@2024-05-01' = {
  parent: apim
  name: declaration.name
  properties: {
    displayName: declaration.displayName
    description: declaration.description
    path: declaration.path
    protocols: declaration.protocols
    subscriptionRequired: declaration.subscriptionRequired
    subscriptionKeyParameterNames: declaration.subscriptionKeyParameterNames
    serviceUrl: serviceUrl
    apiType: 'http'
    type: 'http'
    format: importsOpenApi ? 'openapi+json' : null
    value: importsOpenApi ? openApiDocument : null
  }
}

resource operations 'Microsoft.ApiManagement/service/apis/operations@2024-05-01' = [for operation in declaration.operations: {
  parent: api
  name: operation.name
  properties: {
    displayName: operation.displayName
    method: operation.method
    urlTemplate: operation.urlTemplate
    templateParameters: operation.templateParameters
  }
}]

resource policy 'Microsoft.ApiManagement/service/apis/policies@2024-05-01' = {
  parent: api
  name: 'policy'
  properties: {
    format: 'rawxml'
    value: policyXml
  }
  dependsOn: [
    operations
  ]
}

resource product 'Microsoft.ApiManagement/service/products@2024-05-01' existing = {
  parent: apim
  name: productName
}

resource productApi 'Microsoft.ApiManagement/service/products/apis@2024-05-01' = if (declaration.subscriptionRequired) {
  parent: product
  name: api.name
  dependsOn: [
    policy
  ]
}

@description('Name of the API.')
output name string = api.name

@description('Path prefix of the API on the gateway.')
output path string = api.properties.path
