// The function app: a Flex Consumption plan (FC1, Linux) and the Python 3.11 app on it, running
// as the user-assigned identity. Every connection to Azure is identity-based, so no app setting
// holds a key; the ones that may hold a secret are NOTIFY_WEBHOOK_URLS (a flow URL carries its
// signature) and the optional sign-in client secret (MICROSOFT_PROVIDER_AUTHENTICATION_SECRET),
// which therefore come from @secure() parameters. FUNCTIONS_WORKER_RUNTIME and
// WEBSITE_RUN_FROM_PACKAGE are deliberately absent: Flex Consumption takes the runtime from
// functionAppConfig.runtime and the package from functionAppConfig.deployment, and rejects those
// settings. ALLOW_INSECURE_WEBHOOKS is absent too: it is for local runs and tests only. So is
// WEBSITE_AUTH_ENABLED: App Service sets it itself while App Service Authentication is on
// (signin.bicep, deployed when boardSignInClientId is set).

@description('Function app name (also the default host name prefix).')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region.')
param location string

@description('Tags; azd-service-name is added here.')
param tags object

@description('azd service this app is deployed as (the key under services: in azure.yaml).')
param serviceName string = 'api'

@description('Name of the user-assigned identity the app runs as.')
param identityName string

@description('Storage account behind AzureWebJobsStorage and the deployment container.')
param storageAccountName string

@description('Blob container holding the deployment package.')
param deploymentContainerName string

@description('Application Insights component for telemetry.')
param applicationInsightsName string

@description('Memory of each instance in MB (Flex Consumption sizes).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Upper bound of on-demand instances: caps the bill if something floods the API.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('Concurrent HTTP requests one instance takes before another is added. The handlers are async and serve from the table cache, so one instance handles many.')
@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int

@description('GRAPH_BASE_URL: Graph root without version.')
param graphBaseUrl string

@description('GRAPH_AUTH: azure (managed identity), federated (it as a multi-tenant app\'s federated credential) or none (simulated tenant only).')
@allowed([
  'azure'
  'federated'
  'none'
])
param graphAuth string

@description('GRAPH_APP_CLIENT_ID: the multi-tenant app whose federated credential is the managed identity (empty: none).')
param graphAppClientId string

@description('POLL_SCHEDULE: six-field NCRONTAB schedule of the timer.')
param pollSchedule string

@description('STATUS_TABLE_PREFIX: prefix of every table the app creates.')
param statusTablePrefix string

@description('GRAPH_MAX_CONCURRENCY: Graph requests in flight at once during a poll.')
@minValue(1)
param graphMaxConcurrency int

@description('INCIDENT_OPEN_AFTER_MINUTES: how long a condition holds before its incident opens (empty: error at once, warning after 15 minutes).')
param incidentOpenAfterMinutes string

@description('INCIDENT_RESOLVE_AFTER_MINUTES: how long an item stays healthy before its incident resolves.')
@minValue(0)
param incidentResolveAfterMinutes int

@description('INCIDENT_REMIND_EVERY_HOURS: how often an open incident nobody acknowledged is reminded of (0: never).')
@minValue(0)
param incidentRemindEveryHours int

@description('GRAPH_TIMEOUT_SECONDS: timeout of one Graph request during a poll.')
@minValue(1)
param graphTimeoutSeconds int

@description('GRAPH_MAX_PAGES: a Graph listing longer than this many pages is cut off.')
@minValue(1)
param graphMaxPages int

@description('POLL_DEADLINE_SECONDS: seconds a poll may read Graph (empty: 80% of the interval).')
param pollDeadlineSeconds string

@description('POLL_SPREAD_SECONDS: seconds a round\'s poll messages are spread over (empty: derived from the tenants).')
param pollSpreadSeconds string

@description('PUBLIC_BASE_URL: origin of the links the app builds (empty: the app\'s own host name).')
param publicBaseUrl string

@description('SDS_PROFILES_ENABLED: poll School Data Sync (classic) profiles.')
@allowed([
  'true'
  'false'
])
param sdsProfilesEnabled string

@description('PROVISIONING_JOBS_ENABLED: poll Entra ID provisioning jobs.')
@allowed([
  'true'
  'false'
])
param provisioningJobsEnabled string

@description('PROVISIONING_SERVICE_PRINCIPAL_IDS: auto (or empty) discovers the service principals that have provisioning jobs; or their object ids, comma-separated.')
param provisioningServicePrincipalIds string

@description('PROVISIONING_DISCOVERY_INTERVAL_HOURS: hours between discoveries of the service principals that have jobs.')
@minValue(1)
@maxValue(720)
param provisioningDiscoveryIntervalHours int

@description('PROVISIONING_STALL_AFTER_HOURS: an Active job with no successful cycle for this many hours is an error.')
@minValue(1)
@maxValue(720)
param provisioningStallAfterHours int

@description('PROVISIONING_LOGS_ENABLED: read failures from the provisioning logs.')
@allowed([
  'true'
  'false'
])
param provisioningLogsEnabled string

@description('PROVISIONING_ACTIONS_ENABLED: allow job actions through the API.')
@allowed([
  'true'
  'false'
])
param provisioningActionsEnabled string

@description('PROVISIONING_ACTION_COOLDOWN_SECONDS: at most one action per job this often.')
@minValue(1)
@maxValue(86400)
param provisioningActionCooldownSeconds int

@description('PROVISIONING_ALLOW_FORCE_DELETES: whether a restart may ask for ForceDeletes.')
@allowed([
  'true'
  'false'
])
param provisioningAllowForceDeletes string

@description('DIRECTORY_SYNC_ENABLED: watch Entra Connect directory synchronization.')
@allowed([
  'true'
  'false'
])
param directorySyncEnabled string

@description('DIRECTORY_SYNC_STALE_AFTER_MINUTES: a last directory sync older than this many minutes is an error.')
@minValue(1)
@maxValue(43200)
param directorySyncStaleAfterMinutes int

@description('INDUSTRY_DATA_RUNS_ENABLED: poll industry data runs.')
@allowed([
  'true'
  'false'
])
param industryDataRunsEnabled string

@description('INDUSTRY_DATA_RUNS_KEPT: newest industry data runs kept in the cache.')
@minValue(1)
@maxValue(999)
param industryDataRunsKept int

@description('HISTORY_RETENTION_DAYS: days the change history is kept.')
@minValue(1)
@maxValue(3650)
param historyRetentionDays int

@description('NOTIFY_WEBHOOK_URLS: https URLs every change is POSTed to, comma-separated (may carry signatures).')
@secure()
param notifyWebhookUrls string

@description('BOARD_ALLOWED_GROUP_ID: Entra group object ids a signed-in person must be in (comma-separated); empty: anyone who signs in.')
param boardAllowedGroupId string

@description('Client id of the Entra app registration App Service Authentication signs people in with; empty: no App Service Authentication and BOARD_SIGN_IN_ENABLED=false (the board takes a function key).')
param boardSignInClientId string

@description('Client secret of that app registration (app setting MICROSOFT_PROVIDER_AUTHENTICATION_SECRET, authorization code flow); empty: ID tokens through the implicit flow.')
@secure()
param boardSignInClientSecret string

@description('AzureFunctionsWebHost__hostid: keys the host\'s blob leases (timer singleton) and timer state; unique per app sharing the storage account.')
@minLength(1)
@maxLength(32)
param hostId string

// App Service Authentication (signin.bicep) reads the client secret from the app setting this
// names (the name the portal uses too); the setting exists only when a secret is given.
var signInSecretSettingName = 'MICROSOFT_PROVIDER_AUTHENTICATION_SECRET'
var signInSecretGiven = !(empty(boardSignInClientId) || empty(boardSignInClientSecret))

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: identityName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  // checkov:skip=CKV_AZURE_225:Zone redundancy on Flex Consumption keeps at least two always-ready instances billed around the clock, which defeats scale-to-zero; a status cache refreshed every few minutes tolerates a zonal outage.
  properties: {
    // Linux: Flex Consumption has no Windows workers.
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  // checkov:skip=CKV_AZURE_222:Power Automate cloud flows call the API over the internet; callers need a function key, and only HTTPS with TLS 1.2+ is accepted.
  // checkov:skip=CKV_AZURE_17:Callers authenticate with function keys (x-functions-key); Power Automate custom connectors send an API key, not a client certificate.
  // checkov:skip=CKV_AZURE_212:Minimum instances mean always-ready instances billed 24/7; this app scales to zero between polls on purpose.
  // checkov:skip=CKV_AZURE_213:The platform health check is not available on Flex Consumption, and /api/health answers 503 when Graph is down, which is not an instance fault to recycle.
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          // The platform fetches the package with the app's identity, not a connection string.
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // Every setting below, plus the sign-in client secret only when one is given.
      appSettings: concat([
        // Host storage, identity-based: service URIs + the user-assigned identity's client id.
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: storage.properties.primaryEndpoints.blob
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: storage.properties.primaryEndpoints.queue
        }
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: storage.properties.primaryEndpoints.table
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identity.properties.clientId
        }
        // Separate hosts sharing one storage account must not share lease and timer blobs.
        {
          name: 'AzureFunctionsWebHost__hostid'
          value: hostId
        }
        // Telemetry with Entra authentication (the component has local auth disabled).
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: applicationInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identity.properties.clientId};Authorization=AAD'
        }
        // DefaultAzureCredential (Graph and Table clients) picks the user-assigned identity.
        {
          name: 'AZURE_CLIENT_ID'
          value: identity.properties.clientId
        }
        // The app's own settings (README.md, Settings).
        {
          name: 'GRAPH_BASE_URL'
          value: graphBaseUrl
        }
        {
          name: 'GRAPH_AUTH'
          value: graphAuth
        }
        {
          name: 'GRAPH_APP_CLIENT_ID'
          value: graphAppClientId
        }
        {
          // The deployment's own tenant: the home tenant, whose rows keep today's keys.
          name: 'HOME_TENANT_ID'
          value: tenant().tenantId
        }
        {
          name: 'POLL_SCHEDULE'
          value: pollSchedule
        }
        {
          name: 'STATUS_TABLE_PREFIX'
          value: statusTablePrefix
        }
        // The round's queues (the queue triggers name them as %POLL_QUEUE_NAME% and
        // %DELIVERY_QUEUE_NAME%): one message per tenant, one per receiver with events.
        {
          name: 'POLL_QUEUE_NAME'
          value: toLower('${statusTablePrefix}-polls')
        }
        {
          name: 'DELIVERY_QUEUE_NAME'
          value: toLower('${statusTablePrefix}-deliveries')
        }
        {
          name: 'GRAPH_MAX_CONCURRENCY'
          value: string(graphMaxConcurrency)
        }
        {
          name: 'INCIDENT_OPEN_AFTER_MINUTES'
          value: incidentOpenAfterMinutes
        }
        {
          name: 'INCIDENT_RESOLVE_AFTER_MINUTES'
          value: string(incidentResolveAfterMinutes)
        }
        {
          name: 'INCIDENT_REMIND_EVERY_HOURS'
          value: string(incidentRemindEveryHours)
        }
        {
          name: 'GRAPH_TIMEOUT_SECONDS'
          value: string(graphTimeoutSeconds)
        }
        {
          name: 'GRAPH_MAX_PAGES'
          value: string(graphMaxPages)
        }
        {
          name: 'POLL_DEADLINE_SECONDS'
          value: pollDeadlineSeconds
        }
        {
          name: 'POLL_SPREAD_SECONDS'
          value: pollSpreadSeconds
        }
        {
          name: 'PUBLIC_BASE_URL'
          value: publicBaseUrl
        }
        // Sources a poll reads (the grant script grants the Graph permission of each).
        {
          name: 'SDS_PROFILES_ENABLED'
          value: sdsProfilesEnabled
        }
        {
          name: 'PROVISIONING_JOBS_ENABLED'
          value: provisioningJobsEnabled
        }
        {
          name: 'PROVISIONING_SERVICE_PRINCIPAL_IDS'
          value: provisioningServicePrincipalIds
        }
        {
          name: 'PROVISIONING_DISCOVERY_INTERVAL_HOURS'
          value: string(provisioningDiscoveryIntervalHours)
        }
        {
          name: 'PROVISIONING_STALL_AFTER_HOURS'
          value: string(provisioningStallAfterHours)
        }
        {
          name: 'PROVISIONING_LOGS_ENABLED'
          value: provisioningLogsEnabled
        }
        {
          name: 'PROVISIONING_ACTIONS_ENABLED'
          value: provisioningActionsEnabled
        }
        {
          name: 'PROVISIONING_ACTION_COOLDOWN_SECONDS'
          value: string(provisioningActionCooldownSeconds)
        }
        {
          name: 'PROVISIONING_ALLOW_FORCE_DELETES'
          value: provisioningAllowForceDeletes
        }
        {
          name: 'DIRECTORY_SYNC_ENABLED'
          value: directorySyncEnabled
        }
        {
          name: 'DIRECTORY_SYNC_STALE_AFTER_MINUTES'
          value: string(directorySyncStaleAfterMinutes)
        }
        {
          name: 'INDUSTRY_DATA_RUNS_ENABLED'
          value: industryDataRunsEnabled
        }
        {
          name: 'INDUSTRY_DATA_RUNS_KEPT'
          value: string(industryDataRunsKept)
        }
        // Change history and webhooks.
        {
          name: 'HISTORY_RETENTION_DAYS'
          value: string(historyRetentionDays)
        }
        {
          name: 'NOTIFY_WEBHOOK_URLS'
          value: notifyWebhookUrls
        }
        // The status board: sign-in through App Service Authentication when an app registration
        // is given (the board's route is then anonymous at the host and the app checks the
        // principal); a function key otherwise.
        {
          name: 'BOARD_SIGN_IN_ENABLED'
          value: empty(boardSignInClientId) ? 'false' : 'true'
        }
        {
          name: 'BOARD_ALLOWED_GROUP_ID'
          value: boardAllowedGroupId
        }
      ], signInSecretGiven ? [
        {
          name: signInSecretSettingName
          value: boardSignInClientSecret
        }
      ] : [])
    }
  }
}

// Deployment and management use Entra ID (azd, az); turn off basic-auth publishing credentials.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = functionApp.name
output uri string = 'https://${functionApp.properties.defaultHostName}'
// The app setting that holds the sign-in client secret when one is given (signin.bicep reads it).
output signInSecretSettingName string = signInSecretSettingName
