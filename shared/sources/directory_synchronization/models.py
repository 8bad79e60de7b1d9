"""The organization as the poll checks it before caching it (kept whole, as Graph sent it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr

from shared.core.time import Timestamp


class CheckedOrganization(BaseModel):
    """What the poll relies on; everything else Graph sends is kept as sent."""

    model_config = ConfigDict(extra="allow")

    id: StrictStr
    displayName: StrictStr | None = None
    onPremisesSyncEnabled: StrictBool | None = None
    onPremisesLastSyncDateTime: Timestamp | None = None
    onPremisesLastPasswordSyncDateTime: Timestamp | None = None
