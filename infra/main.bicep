// SyncStatus on Azure Functions Flex Consumption, for `azd up`.
// Creates one resource group holding: a user-assigned managed identity, a storage account with
// shared keys disabled, Log Analytics + Application Insights with local auth disabled, the
// Flex Consumption plan and function app, and the identity's data-plane role assignments.
// Graph application permissions are granted afterwards by scripts/grant-graph-permissions.sh
// (assigning them needs Entra ID admin rights that a Bicep deployment normally does not have).
// With graphAuth federated (many tenants), scripts/create-multitenant-app.sh makes the
// multi-tenant app registration whose federated credential is the identity, for the same reason
// (its header says why not the Microsoft Graph Bicep extension), and scripts/consent-link.sh
// prints each tenant's admin-consent link.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds the unique resource names and the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Region for every resource; it must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group name; empty: rg-<environmentName>.')
param resourceGroupName string = ''

@description('GRAPH_BASE_URL app setting: Graph root without version.')
param graphBaseUrl string = 'https://graph.microsoft.com'

@description('GRAPH_AUTH app setting: azure uses the managed identity (the home tenant); federated uses it as the federated credential of the multi-tenant app graphAppClientId (a token per tenant); none sends no token (simulated tenant only).')
@allowed([
  'azure'
  'federated'
  'none'
])
param graphAuth string = 'azure'

@description('GRAPH_APP_CLIENT_ID app setting: the multi-tenant app registration whose federated credential is the app\'s managed identity (needed with graphAuth federated); empty: none.')
param graphAppClientId string = ''

@description('POLL_SCHEDULE app setting: six-field NCRONTAB (seconds first).')
param pollSchedule string = '0 */5 * * * *'

@description('STATUS_TABLE_PREFIX app setting: prefix of every table the app creates. Give each instance sharing a storage account its own.')
@minLength(1)
param statusTablePrefix string = 'SyncStatus'

@description('GRAPH_MAX_CONCURRENCY app setting: Graph requests in flight at once during a poll.')
@minValue(1)
@maxValue(256)
param graphMaxConcurrency int = 16

@description('INCIDENT_OPEN_AFTER_MINUTES app setting: how long a condition holds before its incident opens (error=0,warning=15, or one number for both); empty: error at once, warning after 15 minutes.')
param incidentOpenAfterMinutes string = ''

@description('INCIDENT_RESOLVE_AFTER_MINUTES app setting: how long an item stays healthy before its incident resolves.')
@minValue(0)
@maxValue(10080)
param incidentResolveAfterMinutes int = 10

@description('INCIDENT_REMIND_EVERY_HOURS app setting: how often an open incident nobody acknowledged is reminded of (0: never).')
@minValue(0)
@maxValue(720)
param incidentRemindEveryHours int = 24

@description('GRAPH_TIMEOUT_SECONDS app setting: timeout of one Graph request during a poll.')
@minValue(1)
@maxValue(600)
param graphTimeoutSeconds int = 30

@description('GRAPH_MAX_PAGES app setting: a Graph listing longer than this many pages is cut off as incomplete.')
@minValue(1)
@maxValue(100000)
param graphMaxPages int = 1000

@description('POLL_DEADLINE_SECONDS app setting: seconds a poll may spend reading Graph; empty: 80% of the schedule\'s interval.')
param pollDeadlineSeconds string = ''

@description('POLL_SPREAD_SECONDS app setting: seconds a round\'s poll messages are spread over; empty: half a second per tenant, at most 30% of the schedule\'s interval.')
param pollSpreadSeconds string = ''

@description('PUBLIC_BASE_URL app setting: origin of the links the app builds (a custom domain or gateway); empty: the app\'s own https host name.')
param publicBaseUrl string = ''

// Sources: which Graph data a poll reads. Each needs its own Graph application permission (and
// provisioning jobs more when discovering or reading the provisioning logs), granted by
// scripts/grant-graph-permissions.sh, which reads these same azd variables.
@description('SDS_PROFILES_ENABLED app setting: poll School Data Sync (classic) profiles; needs EduAdministration.Read.All.')
@allowed([
  'true'
  'false'
])
param sdsProfilesEnabled string = 'true'

@description('PROVISIONING_JOBS_ENABLED app setting: poll Entra ID provisioning jobs (every kind: SaaS apps, Cloud Sync, cross-tenant sync, HR and API-driven inbound); needs Synchronization.Read.All.')
@allowed([
  'true'
  'false'
])
param provisioningJobsEnabled string = 'true'

@description('PROVISIONING_SERVICE_PRINCIPAL_IDS app setting: auto (or empty) discovers every service principal that has provisioning jobs, which also needs Application.Read.All; or the object ids of the service principals to poll, comma-separated.')
param provisioningServicePrincipalIds string = 'auto'

@description('PROVISIONING_DISCOVERY_INTERVAL_HOURS app setting: hours between discoveries of the service principals that have jobs (it also runs on the first poll).')
@minValue(1)
@maxValue(720)
param provisioningDiscoveryIntervalHours int = 24

@description('PROVISIONING_STALL_AFTER_HOURS app setting: an Active job with no successful cycle for this many hours is an error.')
@minValue(1)
@maxValue(720)
param provisioningStallAfterHours int = 24

@description('PROVISIONING_LOGS_ENABLED app setting: read failures from the provisioning logs; needs AuditLog.Read.All and an Entra ID P1 licence.')
@allowed([
  'true'
  'false'
])
param provisioningLogsEnabled string = 'false'

@description('PROVISIONING_ACTIONS_ENABLED app setting: allow restarting, pausing and starting monitored provisioning jobs through the API; needs Synchronization.ReadWrite.All.')
@allowed([
  'true'
  'false'
])
param provisioningActionsEnabled string = 'false'

@description('PROVISIONING_ACTION_COOLDOWN_SECONDS app setting: at most one action per job this often.')
@minValue(1)
@maxValue(86400)
param provisioningActionCooldownSeconds int = 60

@description('PROVISIONING_ALLOW_FORCE_DELETES app setting: whether a restart may ask for ForceDeletes.')
@allowed([
  'true'
  'false'
])
param provisioningAllowForceDeletes string = 'false'

@description('DIRECTORY_SYNC_ENABLED app setting: watch Entra Connect directory synchronization (the organization\'s last sync times); needs Organization.Read.All.')
@allowed([
  'true'
  'false'
])
param directorySyncEnabled string = 'true'

@description('DIRECTORY_SYNC_STALE_AFTER_MINUTES app setting: a last directory sync older than this many minutes is an error (Connect syncs every 30).')
@minValue(1)
@maxValue(43200)
param directorySyncStaleAfterMinutes int = 120

@description('INDUSTRY_DATA_RUNS_ENABLED app setting: poll Microsoft Graph industry data runs; needs IndustryData-Run.Read.All.')
@allowed([
  'true'
  'false'
])
param industryDataRunsEnabled string = 'false'

@description('INDUSTRY_DATA_RUNS_KEPT app setting: newest industry data runs kept in the cache.')
@minValue(1)
@maxValue(999)
param industryDataRunsKept int = 50

@description('HISTORY_RETENTION_DAYS app setting: days the change history is kept before the poll prunes it.')
@minValue(1)
@maxValue(3650)
param historyRetentionDays int = 90

@description('NOTIFY_WEBHOOK_URLS app setting: https URLs every change is POSTed to, comma-separated. Secure: a flow\'s URL carries its signature.')
@secure()
param notifyWebhookUrls string = ''

// The status board (GET /api/board). By default it takes a function key (?code=). With an Entra
// app registration's client id, App Service Authentication signs people in and the board asks
// for that sign-in instead (README: "The board behind Entra ID sign-in"); the API keeps its
// function keys either way.
@description('BOARD_ALLOWED_GROUP_ID app setting: with sign-in, a signed-in person must be a member of one of these Entra groups (object ids, comma-separated; the app registration must emit group claims). Empty: anyone of the tenant who signs in.')
param boardAllowedGroupId string = ''

@description('BOARD_SIGN_IN_CLIENT_ID: client (application) id of the Entra app registration App Service Authentication signs people in with. Set: App Service Authentication on (anonymous requests still allowed, so the API keeps its function keys) and BOARD_SIGN_IN_ENABLED=true; empty (default): no App Service Authentication, the board takes a function key.')
param boardSignInClientId string = ''

@description('BOARD_SIGN_IN_CLIENT_SECRET: optional client secret of that app registration, for the authorization code flow; it becomes the app setting MICROSOFT_PROVIDER_AUTHENTICATION_SECRET. Empty: ID tokens through the implicit flow, no secret.')
@secure()
param boardSignInClientSecret string = ''

@description('AzureFunctionsWebHost__hostid: empty derives a unique id from the app name. Set a distinct one per instance when several share a storage account.')
@maxLength(32)
param hostId string = ''

@description('Memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most on-demand instances the app may scale out to. Each instance polls at most 6 tenants at once from the poll queue (host.json batchSize 4 + newBatchThreshold 2), so this bounds how many tenants Graph sees polled at once (40 x 6 = 240).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Concurrent HTTP requests per instance before scaling out.')
@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int = 16

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-api-${resourceToken}'
// Host ids: lowercase letters, digits and dashes, at most 32 characters.
var effectiveHostId = empty(hostId) ? take(functionAppName, 32) : hostId
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-api-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.name
    principalId: identity.outputs.principalId
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  // Roles first, so the host's first start can already reach storage and Application Insights.
  dependsOn: [
    rbac
  ]
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    serviceName: 'api'
    identityName: identity.outputs.name
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsName: monitoring.outputs.name
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
    graphBaseUrl: graphBaseUrl
    graphAuth: graphAuth
    graphAppClientId: graphAppClientId
    pollSchedule: pollSchedule
    statusTablePrefix: statusTablePrefix
    graphMaxConcurrency: graphMaxConcurrency
    incidentOpenAfterMinutes: incidentOpenAfterMinutes
    incidentResolveAfterMinutes: incidentResolveAfterMinutes
    incidentRemindEveryHours: incidentRemindEveryHours
    graphTimeoutSeconds: graphTimeoutSeconds
    graphMaxPages: graphMaxPages
    pollDeadlineSeconds: pollDeadlineSeconds
    pollSpreadSeconds: pollSpreadSeconds
    publicBaseUrl: publicBaseUrl
    sdsProfilesEnabled: sdsProfilesEnabled
    provisioningJobsEnabled: provisioningJobsEnabled
    provisioningServicePrincipalIds: provisioningServicePrincipalIds
    provisioningDiscoveryIntervalHours: provisioningDiscoveryIntervalHours
    provisioningStallAfterHours: provisioningStallAfterHours
    provisioningLogsEnabled: provisioningLogsEnabled
    provisioningActionsEnabled: provisioningActionsEnabled
    provisioningActionCooldownSeconds: provisioningActionCooldownSeconds
    provisioningAllowForceDeletes: provisioningAllowForceDeletes
    directorySyncEnabled: directorySyncEnabled
    directorySyncStaleAfterMinutes: directorySyncStaleAfterMinutes
    industryDataRunsEnabled: industryDataRunsEnabled
    industryDataRunsKept: industryDataRunsKept
    historyRetentionDays: historyRetentionDays
    notifyWebhookUrls: notifyWebhookUrls
    boardAllowedGroupId: boardAllowedGroupId
    boardSignInClientId: boardSignInClientId
    boardSignInClientSecret: boardSignInClientSecret
    hostId: effectiveHostId
  }
}

// App Service Authentication for the board, only with an app registration. It does not require a
// sign-in: the API keeps its function keys, and the board asks for the sign-in itself.
module signIn 'app/signin.bicep' = if (!empty(boardSignInClientId)) {
  name: 'signin'
  scope: rg
  params: {
    functionAppName: api.outputs.name
    clientId: boardSignInClientId
    clientSecretSettingName: empty(boardSignInClientSecret) ? '' : api.outputs.signInSecretSettingName
  }
}

// azd stores these in the environment (.azure/<env>/.env); `azd env get-value NAME` reads them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_FUNCTION_APP_URL string = api.outputs.uri
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
// The grant script assigns the Graph application roles to this principal; the multi-tenant
// app's federated credential (create-multitenant-app.sh) names it as its subject, its issuer
// the tenant of AZURE_TENANT_ID, and checks the client id against it.
output API_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output API_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
