"""Sample documents from Graph's reference pages, used as they are."""

from __future__ import annotations

from shared.sources.school_data_sync.cached import CachedProfile

SEED_ID = "86904b1e-c7d0-4ead-b13a-98f11fc400ee"
# The example response of Graph's "Get educationSynchronizationProfileStatus" page.
SEED = {
    "id": SEED_ID,
    "status": "inProgress",
    "lastSynchronizationDateTime": "2021-07-13T20:55:17.6475128Z",
    "lastActivityDateTime": "2021-07-13T20:55:17.6475128Z",
    "errorCount": 0,
    "statusMessage": "Processed 0 in the last hour.\r\nUpdated 0 in the last hour.",
}

# The JSON representation on Graph's synchronizationStatus resource page, verbatim.
SYNC_STATUS_EXAMPLE = {
    "@odata.type": "#microsoft.graph.synchronizationStatus",
    "countSuccessiveCompleteFailures": 1024,
    "escrowsPruned": True,
    "code": "String",
    "lastExecution": {
        "@odata.type": "microsoft.graph.synchronizationTaskExecution",
        "activityIdentifier": "String",
        "countEntitled": 1024,
        "countEntitledForProvisioning": 1024,
        "countEscrowed": 1024,
        "countEscrowedRaw": 1024,
        "countExported": 1024,
        "countExports": 1024,
        "countImported": 1024,
        "countImportedDeltas": 1024,
        "countImportedReferenceDeltas": 1024,
        "state": "String",
        "error": {
            "@odata.type": "microsoft.graph.synchronizationError",
            "code": "String",
            "message": "String",
            "tenantActionable": True,
        },
        "timeBegan": "String (timestamp)",
        "timeEnded": "String (timestamp)",
    },
    "lastSuccessfulExecution": {"@odata.type": "microsoft.graph.synchronizationTaskExecution"},
    "lastSuccessfulExecutionWithExports": {
        "@odata.type": "microsoft.graph.synchronizationTaskExecution"
    },
    "progress": [
        {
            "@odata.type": "microsoft.graph.synchronizationProgress",
            "completedUnits": 1024,
            "progressObservationDateTime": "String (timestamp)",
            "totalUnits": 1024,
            "units": "String",
        }
    ],
    "quarantine": {
        "@odata.type": "microsoft.graph.synchronizationQuarantine",
        "currentBegan": "String (timestamp)",
        "nextAttempt": "String (timestamp)",
        "reason": "String",
        "seriesBegan": "String (timestamp)",
        "seriesCount": 1024,
    },
    "steadyStateFirstAchievedTime": "String (timestamp)",
    "steadyStateLastAchievedTime": "String (timestamp)",
    "synchronizedEntryCountByType": [
        {"@odata.type": "microsoft.graph.stringKeyLongValuePair", "key": "String", "value": 1024}
    ],
    "troubleshootingUrl": "String",
}


def profile_entry(profile_id: str, **status: object) -> CachedProfile:
    """A School Data Sync profile as a poll would cache it: the seed status, under its id,
    with ``status`` changes; its fingerprint follows its status."""
    return CachedProfile(
        id=profile_id,
        display_name=f"School {profile_id}",
        state="provisioned",
        status={**SEED, "id": profile_id, **status},
        graph_hash=f"hash-{profile_id}-{status.get('status', SEED['status'])}",
    )
