"""The model of an Industry Data run as Graph sends it, checked for what the cache relies on.
The JSON itself is kept whole."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictStr


class CheckedIndustryDataRun(BaseModel):
    """An Industry Data run (Graph beta), checked for what the cache relies on."""

    model_config = ConfigDict(extra="allow")

    id: StrictStr = Field(min_length=1)
    displayName: StrictStr | None = None
    status: StrictStr | None = None
    startDateTime: StrictStr | None = None
    endDateTime: StrictStr | None = None
