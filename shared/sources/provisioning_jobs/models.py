"""The model of a provisioning job as Graph sends it, checked only for what the cache relies
on: an id, and a ``status`` that is an object when present. The JSON itself is kept whole.

msgraph-sdk's typed ``SynchronizationJob`` is not used to read it: its parse cuts timestamps
to microseconds and turns enum members it does not know into None.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr


class CheckedSynchronizationJob(BaseModel):
    """An Entra ID provisioning job (Graph v1.0), checked for what the cache relies on."""

    model_config = ConfigDict(extra="allow")

    id: StrictStr = Field(min_length=1)
    templateId: StrictStr | None = None
    status: dict[str, Any] | None = None
