"""The supervisor's settings: one object, its sections, read once in the composition root."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from switchboard.core.budget import Budget
from switchboard.core.settings import ServiceSettings
from switchboard.guard import GuardSettings
from switchboard.store import StoreSettings


class SupervisorSettings(ServiceSettings):
    """Everything the supervisor is configured with, read once by its composition root.

    Sections (``llm``, ``auth``, ``limits``, ``store``, ``guard``, ``telemetry``) read their
    own variables; the variable names are flat (see the README's table).
    """

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    store: StoreSettings = Field(default_factory=StoreSettings)
    guard: GuardSettings = Field(default_factory=GuardSettings)

    router_model: str = Field("claude-haiku-4-5", description="Model that breaks routing ties.")
    route_accept_confidence: float = Field(
        0.7,
        ge=0,
        le=1,
        description="Calibrated embedding-routing confidence (the estimated chance the "
        "decision is right) below which routing is 'unsure'.",
    )
    route_min_similarity: float = Field(
        0.3, ge=-1, le=1, description="Best example similarity below this is too vague to route."
    )
    route_out_of_scope_similarity: float = Field(
        0.2, ge=-1, le=1, description="Best example similarity below this is out of scope."
    )
    route_temperature: float | None = Field(
        None,
        gt=0,
        description="Softmax temperature of the routing confidence; unset: fitted on the cards.",
    )
    routing_calibration: Path | None = Field(
        None,
        description="File written by 'switchboard eval routing --write-config': its thresholds "
        "replace the route_* defaults (variables set explicitly still win).",
    )
    route_self_calibration: bool = Field(
        True,
        description="Fit the routing thresholds on the agents' own cards whenever they are "
        "loaded (cross-validated on their examples); thresholds set explicitly stay.",
    )
    route_self_calibration_target: float = Field(
        0.95,
        gt=0,
        le=1,
        description="Accuracy the embedding router's own decisions must reach on the cards' "
        "held-out examples; below it, requests go to Claude or the user is asked.",
    )
    language_detection: bool = Field(
        True,
        description="Detect requests not in English: Claude routes them; offline the reply "
        "says only English is answered (route method unsupported_language).",
    )
    agent_timeout_s: float = Field(
        20.0, gt=0, description="Agent call deadline when the caller sets none."
    )
    deadline_margin_s: float = Field(
        0.05, ge=0, description="Time kept back from the caller's deadline for the reply."
    )
    describe_timeout_s: float = Field(2.0, gt=0, description="Deadline of Describe calls.")
    session_stickiness: bool = Field(
        True, description="Follow-up turns of a session stay with its agent (sessions.py)."
    )
    session_switch_confidence: float = Field(
        0.85,
        ge=0,
        le=1,
        description="A follow-up leaves the session's agent only when another agent is at "
        "least this confident in context (fitted by `switchboard eval sessions`).",
    )
    session_context_weight: float = Field(
        0.5,
        ge=0,
        le=2,
        description="Weight of the previous turn's embedding when a turn is read in context.",
    )
    session_ttl_s: float = Field(
        1800.0, gt=0, description="A session idle this long starts afresh (state expires)."
    )
    state_timeout_s: float = Field(
        0.5,
        gt=0,
        description="Deadline of session-state and example-candidate reads and writes; past "
        "it the request goes on without them.",
    )
    audit_request_text: bool = Field(
        False,
        description="Keep the text of compound requests' parts in audit rows (off: only "
        "their lengths; example candidates are the only request text the store keeps).",
    )
    record_example_candidates: bool = Field(
        True,
        description="Store the text of requests Claude routed, or that needed clarification or "
        "escalated, as example candidates for review (`switchboard examples`).",
    )
    compound_max_parts: int = Field(
        3,
        ge=1,
        le=6,
        description="Most parts a compound request is split into, each asked of its agent in "
        "parallel; 1 turns splitting off.",
    )
    budget_tokens: int | None = Field(
        None, ge=0, description="Default LLM-token budget per request; unset: unlimited."
    )
    budget_cost_usd: float | None = Field(
        None, ge=0, description="Default estimated cost budget (USD) per request; unset: none."
    )
    budget_hops: int = Field(
        3, ge=0, le=16, description="Service-to-service calls one request may make."
    )
    breaker_failure_threshold: int = Field(
        5, ge=1, description="Consecutive failed calls to an agent that open its breaker."
    )
    breaker_reset_s: float = Field(
        10.0, gt=0, description="Seconds an open breaker waits before probing the agent again."
    )
    escalate_when_agent_down: bool = Field(
        True,
        description="An unavailable agent (down, or breaker open) escalates the request to a "
        "person (status ESCALATED); false: the caller gets UNAVAILABLE.",
    )

    review_sample_rate: float = Field(
        0.02,
        ge=0,
        le=1,
        description="Fraction of answered requests opened as review items for a quality "
        "verdict (the caller's answer is unchanged); 0 turns sampling off.",
    )
    review_min_confidence: float = Field(
        0.0,
        ge=0,
        le=1,
        description="An answer less confident than this goes to a person instead (ESCALATED, "
        "reason low_confidence; the reviewer sees the draft); 0: off.",
    )
    review_escalation_ttl_s: float = Field(
        7 * 86400.0, gt=0, description="An escalation nobody resolves closes after this."
    )
    review_approval_ttl_s: float = Field(
        86400.0,
        gt=0,
        description="A pending action nobody approves closes after this (or when its action "
        "id expires, if sooner).",
    )
    review_sample_ttl_s: float = Field(
        14 * 86400.0, gt=0, description="A sampled answer nobody judges leaves the inbox."
    )
    review_watch_poll_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="How often a WatchResult stream reads whether a person has decided.",
    )
    review_watch_max_s: float = Field(
        300.0,
        gt=0,
        description="The longest a WatchResult stream waits for a person (callers may ask less).",
    )
    review_claim_s: float = Field(
        900.0,
        ge=10,
        le=3600,
        description="How long a reviewer's claim on an item lasts (renewed by claiming again).",
    )

    @property
    def default_budget(self) -> Budget:
        """The most one request may use; a caller's budget metadata can only lower it."""
        return Budget(
            tokens=self.budget_tokens, cost_usd=self.budget_cost_usd, hops=self.budget_hops
        )

    @model_validator(mode="after")
    def _apply_calibration(self) -> SupervisorSettings:
        if self.routing_calibration is None:
            return self
        from switchboard.supervisor.routing.calibration import RoutingCalibration

        fitted = RoutingCalibration.load(self.routing_calibration)
        for name, value in fitted.settings_values().items():
            if name not in self.model_fields_set:
                setattr(self, name, value)
        return self
