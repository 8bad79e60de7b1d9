// App Service Authentication ("Easy Auth", authsettingsV2) on the function app, for the status
// board: Microsoft Entra ID sign-in with an app registration made beforehand (infra/README.md,
// "The board behind Entra ID sign-in"). main.bicep deploys this only when boardSignInClientId is
// set; api.bicep then sets BOARD_SIGN_IN_ENABLED=true.
//
// A sign-in is never required (AllowAnonymous): requests without one reach the functions as
// before, so the API routes keep working with function keys (Power Automate), and the board
// itself asks for the sign-in, reading the principal the platform passes in
// X-MS-CLIENT-PRINCIPAL (and, with BOARD_ALLOWED_GROUP_ID, its group claims). The platform also
// sets WEBSITE_AUTH_ENABLED, without which the app does not trust that header.

@description('Function app to configure.')
param functionAppName string

@description('Client (application) id of the Entra app registration people sign in with.')
@minLength(1)
param clientId string

@description('App setting holding the app registration\'s client secret (authorization code flow); empty: no secret, ID tokens through the implicit flow.')
param clientSecretSettingName string = ''

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

// checkov applies its checks of the site's web config (and of the v1 authsettings) to every
// Microsoft.Web/sites/config; this is the v2 authentication config, which has none of the
// properties they inspect, hence the skips (at the top of the block: pycep, the parser checkov
// uses, accepts at most four comment lines after a property).
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13:Checks the properties.enabled of v1 authsettings; v2 turns authentication on with properties.platform.enabled, true here.
  // checkov:skip=CKV_AZURE_63:HTTP logging is a property of the site web config, not of authsettingsV2; logs go to Application Insights.
  // checkov:skip=CKV_AZURE_65:Detailed error messages are a property of the site web config, not of authsettingsV2.
  // checkov:skip=CKV_AZURE_66:Failed request tracing is a property of the site web config, not of authsettingsV2.
  // checkov:skip=CKV_AZURE_80:The .NET Framework version is a property of the site web config; this is a Python app.
  // checkov:skip=CKV_AZURE_88:Azure Files mounts are a property of the site web config; Flex Consumption uses no content share.
  // checkov:skip=CKV_AZURE_222:Public network access is a property of the site (skipped there in api.bicep: Power Automate calls over the internet), not of authsettingsV2.
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        // Without a client secret: OpenID Connect implicit flow (ID tokens); with one: the
        // authorization code flow, the secret read from the app setting named here.
        registration: union({
          clientId: clientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }, empty(clientSecretSettingName) ? {} : {
          clientSecretSettingName: clientSecretSettingName
        })
        validation: {
          allowedAudiences: [
            clientId
            'api://${clientId}'
          ]
        }
      }
    }
    login: {
      // The platform keeps the session in its own cookie; the app needs no stored tokens.
      tokenStore: {
        enabled: false
      }
    }
  }
}
