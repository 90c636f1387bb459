"""The example's own request and response bodies (the job ones are offpath's).

Request fields reuse the tasks' own annotated types (``Email``, ``Month``), so a body
the API accepts is one the task accepts too.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.shared.tasks import Email, Month


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Annotated[int, Field(gt=0)]
    month: Month


class SignupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email


class SignupResponse(BaseModel):
    user_id: int = Field(description="The new (simulated) user's id.")
    email: str


class Health(BaseModel):
    status: Literal["ok"]
