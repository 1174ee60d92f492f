// AKS cluster that runs the Spin application with SpinKube. This module creates the cluster and
// its Azure-side wiring only; SpinKube itself (cert-manager, runtime-class-manager with the
// containerd-shim-spin Shim, spin-operator, the ingress controller) is installed by
// infra/hooks/postprovision.sh, because Helm charts and custom resources are not ARM resources.
//
// Layout: a small `system` pool tainted CriticalAddonsOnly, and an autoscaled `spin` user pool
// labelled spin=true, the label runtime-class-manager's Shim selects to install the shim, so new
// nodes added by the cluster autoscaler get it too. The SpinApp's pods do not select spin=true
// (a node has it from creation, before the shim is installed) but the label runtime-class-manager
// sets once the shim is installed (infra/k8s/platform/runtime-class.yaml).

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the cluster (also its DNS prefix).')
param name string

@allowed([
  'Free'
  'Standard'
])
@description('Control plane tier.')
param skuTier string

@description('Kubernetes version; empty for the region default.')
param kubernetesVersion string

@description('VM size of the system pool.')
param systemNodeVmSize string

@minValue(1)
@description('Node count of the system pool.')
param systemNodeCount int

@description('VM size of the spin pool.')
param spinNodeVmSize string

@minValue(1)
@description('Autoscaler minimum of the spin pool.')
param spinNodeMinCount int

@minValue(1)
@description('Autoscaler maximum of the spin pool.')
param spinNodeMaxCount int

@description('CIDR ranges allowed to reach the API server; empty for any.')
param apiServerAuthorizedIpRanges array

@description('Enable Container Insights (Azure Monitor agent with Microsoft Entra authentication).')
param enableContainerInsights bool

@description('Resource id of the Log Analytics workspace for Container Insights.')
param logAnalyticsWorkspaceId string

@description('Name of the container registry the kubelet identity may pull from (AcrPull).')
param registryName string

@description('Object id of the deployer, granted AKS RBAC Cluster Admin and Cluster User (to fetch a kubeconfig). Empty: none.')
param principalId string

@description('Principal type of principalId.')
param principalType string

// Built-in roles by name (infra/built-in-roles.json, the one role table of the deployment;
// tests/infra/check_infra.py checks each name and GUID against Azure's list).
var builtInRoles = loadJsonContent('../built-in-roles.json')
var acrPullRoleId = builtInRoles.AcrPull
var networkContributorRoleId = builtInRoles['Network Contributor']
var aksRbacClusterAdminRoleId = builtInRoles['Azure Kubernetes Service RBAC Cluster Admin']
var aksClusterUserRoleId = builtInRoles['Azure Kubernetes Service Cluster User Role']

resource cluster 'Microsoft.ContainerService/managedClusters@2025-05-01' = {
  // checkov:skip=CKV_AZURE_8: the Kubernetes dashboard add-on is not offered on the Kubernetes versions AKS supports (removed with 1.19): there is nothing to disable.
  // checkov:skip=CKV_AZURE_172: the Secrets Store CSI driver add-on is not enabled (the backend key reaches the pod through a Kubernetes Secret written by the deploy hook), so there is no rotation to configure.
  // checkov:skip=CKV_AZURE_6: API server authorized ranges are a parameter (apiServerAuthorizedIpRanges); the deployer's address is not known to the template.
  // checkov:skip=CKV_AZURE_226: ephemeral OS disks need a VM size whose cache or temporary disk holds the OS disk; the default size has none, and the node size is a parameter.
  // checkov:skip=CKV_AZURE_227: encryption at host needs the EncryptionAtHost feature registered on the subscription, which a fresh subscription does not have.
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Base'
    tier: skuTier
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    dnsPrefix: name
    kubernetesVersion: empty(kubernetesVersion) ? null : kubernetesVersion
    enableRBAC: true
    disableLocalAccounts: true
    aadProfile: {
      managed: true
      enableAzureRBAC: true
      tenantID: tenant().tenantId
    }
    oidcIssuerProfile: {
      enabled: true
    }
    securityProfile: {
      workloadIdentity: {
        enabled: true
      }
    }
    apiServerAccessProfile: {
      authorizedIPRanges: apiServerAuthorizedIpRanges
    }
    autoUpgradeProfile: {
      upgradeChannel: 'patch'
      nodeOSUpgradeChannel: 'NodeImage'
    }
    networkProfile: {
      networkPlugin: 'azure'
      networkPluginMode: 'overlay'
      networkDataplane: 'cilium'
      networkPolicy: 'cilium'
      loadBalancerSku: 'standard'
      outboundType: 'loadBalancer'
    }
    // No azurepolicy add-on: it needs the Microsoft.PolicyInsights resource provider registered and
    // does nothing without policy assignments, which this template does not make. Assign Azure
    // Policy for Kubernetes yourself if your organisation requires it (docs/deploy.md).
    addonProfiles: {
      omsagent: {
        enabled: enableContainerInsights
        config: enableContainerInsights ? {
          logAnalyticsWorkspaceResourceID: logAnalyticsWorkspaceId
          useAADAuth: 'true'
        } : null
      }
    }
    agentPoolProfiles: [
      {
        name: 'system'
        mode: 'System'
        osType: 'Linux'
        osSKU: 'Ubuntu'
        type: 'VirtualMachineScaleSets'
        vmSize: systemNodeVmSize
        count: systemNodeCount
        maxPods: 110
        nodeTaints: [
          'CriticalAddonsOnly=true:NoSchedule'
        ]
        upgradeSettings: {
          maxSurge: '33%'
        }
      }
      {
        name: 'spin'
        mode: 'User'
        osType: 'Linux'
        osSKU: 'Ubuntu'
        type: 'VirtualMachineScaleSets'
        vmSize: spinNodeVmSize
        count: spinNodeMinCount
        enableAutoScaling: true
        minCount: spinNodeMinCount
        maxCount: spinNodeMaxCount
        maxPods: 110
        nodeLabels: {
          spin: 'true'
        }
        upgradeSettings: {
          maxSurge: '33%'
        }
      }
    ]
  }
}

// Container Insights with Microsoft Entra authentication collects through a data collection rule
// associated with the cluster (what `az aks enable-addons -a monitoring` creates).
resource containerInsightsRule 'Microsoft.Insights/dataCollectionRules@2023-03-11' = if (enableContainerInsights) {
  name: 'MSCI-${location}-${name}'
  location: location
  tags: tags
  kind: 'Linux'
  properties: {
    dataSources: {
      extensions: [
        {
          name: 'ContainerInsightsExtension'
          extensionName: 'ContainerInsights'
          streams: [
            'Microsoft-ContainerInsights-Group-Default'
          ]
          extensionSettings: {
            dataCollectionSettings: {
              interval: '1m'
              namespaceFilteringMode: 'Off'
              enableContainerLogV2: true
            }
          }
        }
      ]
    }
    destinations: {
      logAnalytics: [
        {
          name: 'ciworkspace'
          workspaceResourceId: logAnalyticsWorkspaceId
        }
      ]
    }
    dataFlows: [
      {
        streams: [
          'Microsoft-ContainerInsights-Group-Default'
        ]
        destinations: [
          'ciworkspace'
        ]
      }
    ]
  }
}

resource containerInsightsAssociation 'Microsoft.Insights/dataCollectionRuleAssociations@2023-03-11' = if (enableContainerInsights) {
  name: 'ContainerInsightsExtension'
  scope: cluster
  properties: {
    dataCollectionRuleId: containerInsightsRule.id
    description: 'Container Insights for the name-api cluster.'
  }
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

// The kubelet identity pulls the SpinApp's OCI artifact.
resource kubeletAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, cluster.id, acrPullRoleId)
  scope: registry
  properties: {
    principalId: cluster.properties.identityProfile.kubeletidentity.objectId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRoleId)
  }
}

// The cluster identity attaches the pre-created ingress public IP (ingress-ip.bicep) to its load
// balancer; AKS documents Network Contributor on the IP's resource group for that.
resource clusterNetworkContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, cluster.id, networkContributorRoleId)
  properties: {
    principalId: cluster.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', networkContributorRoleId)
  }
}

resource deployerClusterAdmin 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(principalId)) {
  name: guid(cluster.id, principalId, aksRbacClusterAdminRoleId)
  scope: cluster
  properties: {
    principalId: principalId
    principalType: principalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', aksRbacClusterAdminRoleId)
  }
}

resource deployerClusterUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(principalId)) {
  name: guid(cluster.id, principalId, aksClusterUserRoleId)
  scope: cluster
  properties: {
    principalId: principalId
    principalType: principalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', aksClusterUserRoleId)
  }
}

@description('Name of the cluster.')
output name string = cluster.name

@description('OIDC issuer URL, for workload identity federation.')
output oidcIssuerUrl string = cluster.properties.oidcIssuerProfile.issuerURL
