// Log Analytics workspace + workspace-based Application Insights. Local (instrumentation-key)
// authentication is off: the app sends telemetry with its managed identity only
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING + the Monitoring Metrics Publisher role).

@description('Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Azure region.')
param location string

@description('Tags for both resources.')
param tags object

@description('Days of log retention (30 is the no-extra-charge minimum).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      // Queries and ingestion go through Entra ID only; no workspace shared keys.
      disableLocalAuth: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    // Reject telemetry sent with the bare instrumentation key: only Entra-authenticated ingestion.
    DisableLocalAuth: true
  }
}

output name string = applicationInsights.name
output id string = applicationInsights.id
// Not a secret: with DisableLocalAuth the key in it only identifies the component.
output connectionString string = applicationInsights.properties.ConnectionString
output logAnalyticsId string = logAnalytics.id
