"""An agent service's settings: one object, its sections, read once in the composition root."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from switchboard.core.settings import ServiceSettings
from switchboard.guard import GuardSettings
from switchboard.store import StoreSettings


class PromptsSettings(BaseSettings):
    """Where the agent's prompt comes from: a label in the prompt registry (docs/prompts.md)."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_PROMPTS_", extra="ignore")

    enabled: bool = Field(
        True,
        description="Resolve the prompt from the registry in the store; off: prompt.md only.",
    )
    label: str = Field(
        "production",
        pattern=r"^[a-z][a-z0-9_-]{0,63}$",
        description="The label this agent's replicas answer with (production, staging...).",
    )
    cache_ttl_s: float = Field(
        15.0,
        gt=0,
        le=30.0,
        description="How long a replica uses what it read before reading the label again: "
        "a label move reaches every replica within this time.",
    )
    fetch_timeout_s: float = Field(
        1.0, gt=0, description="Longest wait for the registry; then the last good version."
    )
    pin: int | None = Field(
        None,
        ge=1,
        description="Answer with this version number, ignoring the label (evaluations, "
        "debugging one replica).",
    )


class WorkingMemorySettings(BaseSettings):
    """The tool loop's scratch-pad in the durable store, so a confirmation resumes the model
    where it stopped, on any replica (docs/memory.md, "Working memory")."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_WORKING_MEMORY_", extra="ignore")

    enabled: bool = Field(
        True,
        description="Save the loop's state per step and resume the model after a confirmed "
        "action; off: the confirmation answers with the action's result alone.",
    )
    ttl_s: float = Field(
        86400.0,
        gt=0,
        description="Longest a scratch-pad is kept; one awaiting an action goes when the "
        "action can no longer be confirmed, if sooner. Keep it at least "
        "SWITCHBOARD_REVIEW_ACTION_TTL_S so reviewer approvals resume too.",
    )
    timeout_s: float = Field(
        0.5,
        gt=0,
        description="Longest wait for one save, load or delete (within the request's "
        "deadline); past it the answer goes on without (logged and counted).",
    )


class AgentSettings(ServiceSettings):
    """Everything an agent service is configured with, read once by its composition root.

    Sections (``llm``, ``auth``, ``limits``, ``store``, ``guard``, ``telemetry``,
    ``working_memory``...) read their
    own variables; the variable names are flat (see the README's table).
    """

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    store: StoreSettings = Field(default_factory=StoreSettings)
    guard: GuardSettings = Field(default_factory=GuardSettings)
    prompts: PromptsSettings = Field(default_factory=PromptsSettings)
    working_memory: WorkingMemorySettings = Field(default_factory=WorkingMemorySettings)

    chroma_url: str | None = Field(
        None, description="Chroma server URL (http://host:port); embedded store when unset."
    )

    action_secret: SecretStr | None = Field(
        None,
        description="Key that signs proposed-action ids (32+ random characters; the same on "
        "every replica). Unset: a random key per process, so ids die with the process.",
    )
    action_ttl_s: float = Field(
        3600.0, gt=0, description="How long a proposed action may be confirmed."
    )
    review_action_ttl_s: float = Field(
        86400.0,
        gt=0,
        description="How long an action a reviewer must approve may be approved (people need "
        "longer than callers).",
    )
    tools_data: Path | None = Field(
        None, description="Fixture file of the demo tool backend; the shipped demo data if unset."
    )
    max_answer_chars: int = Field(
        8000,
        ge=200,
        description="Longest answer that may leave the agent; a longer one is withheld by "
        "output screening (answered offline instead).",
    )
    llm_breaker_threshold: int = Field(
        5, ge=1, description="Consecutive LLM failures that open the LLM circuit breaker."
    )
    llm_breaker_reset_s: float = Field(
        30.0, gt=0, description="Seconds the LLM breaker stays open before a probe."
    )

    def chroma_path(self, agent: str) -> Path:
        return self.data_dir / "chroma" / agent
