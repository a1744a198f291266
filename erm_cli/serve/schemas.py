"""Request and response bodies of ``erm serve`` (they also make the OpenAPI docs at ``/docs``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..schemas import SCHEMA_VERSION

_VERSION_FIELD = Field(SCHEMA_VERSION, description="Version of erm's JSON contract (docs/SCHEMAS.md).")


class JudgeRequest(BaseModel):
    """One pair to judge. Give the reference as base64 or as a path under the server's allowed root, and
    the candidate as base64 image bytes, a path, or code (raw, or a model answer with fenced blocks)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, description="Echoed back; useful in batches.")
    reference_b64: str | None = Field(None, description="Reference image bytes, base64 (a data: URI works).")
    reference_path: str | None = Field(None, description="Reference image path, relative to an --allowed-root folder (looked up in each in turn).")
    candidate_b64: str | None = Field(None, description="Candidate image bytes, base64.")
    candidate_path: str | None = Field(None, description="Candidate image or code file under an --allowed-root folder.")
    candidate_code: str | None = Field(None, description="Candidate code or a model completion to render.")
    task: Literal["auto", "chart", "table", "svg"] = "auto"
    kind: Literal["matplotlib", "plotly", "svg", "html", "markdown", "latex"] | None = Field(
        None, description="Renderer for candidate code; detected when omitted.")


class JudgeResponse(BaseModel):
    """The answer to one pair: the reward, and the verdict (a [Verdict](#verdict)) or why it failed."""

    schema_version: str = _VERSION_FIELD
    id: str | None = None
    ok: bool = Field(..., description="False when this item could not be judged or its candidate did not render "
                                      "(the reason is in error).")
    reward: float = Field(..., description="Visual reward in [0, 1] (0 when the code did not render).")
    rl_reward: float = Field(..., description="render_ok + reward, in [0, 2] (the RL reward).")
    render_ok: bool = False
    error: str | None = None
    verdict: dict[str, Any] | None = None
    seconds: float = 0.0


class RewardRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[JudgeRequest] = Field(..., description="Pairs to score; each fails alone.")
    include_verdicts: bool = Field(False, description="Also return each full verdict.")


class RewardResponse(BaseModel):
    """The answer to a batch: the RL rewards in request order and one result per item."""

    schema_version: str = _VERSION_FIELD
    rewards: list[float] = Field(..., description="RL rewards (render_ok + visual reward), 0 for failed items.")
    visual_rewards: list[float]
    results: list[JudgeResponse]
    seconds: float


class Health(BaseModel):
    """The server's state: the judge it serves and the load it carries."""

    schema_version: str = _VERSION_FIELD
    status: Literal["ok"] = "ok"
    version: str
    judge: dict[str, str]
    openai_model: str | None = None
    in_flight: int = 0
    max_concurrency: int = 0
    pixels_in_use: int = Field(0, description="Decoded pixels reserved by requests in flight.")
    pixels_peak: int = Field(0, description="The most pixels ever reserved at once.")
    pixel_budget: int = Field(0, description="Decoded pixels shared by all requests (--pixel-budget).")
