"""Settings sections every service shares; each service's root settings object nests them.

Every section reads its own environment variables (``SWITCHBOARD_*``, the Anthropic SDK's and
the standard ``OTEL_*`` ones), so the variable names stay flat while the object is nested:
``settings.limits.max_text_chars`` is ``SWITCHBOARD_MAX_TEXT_CHARS``. Sections are read only
when a service's root settings object is created, in its composition root; nothing else in
the code reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from switchboard.core.pricing import DEFAULT_PRICES, ModelPrice


class LLMSettings(BaseSettings):
    """The Anthropic client: key, endpoint, model override, timeouts, retries, prices."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    anthropic_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("ANTHROPIC_API_KEY", "SWITCHBOARD_ANTHROPIC_API_KEY")
    )
    anthropic_base_url: str | None = Field(
        None, validation_alias=AliasChoices("ANTHROPIC_BASE_URL", "SWITCHBOARD_ANTHROPIC_BASE_URL")
    )
    model: str | None = Field(None, description="Overrides every agent's configured model.")
    llm_timeout_s: float = Field(30.0, gt=0, description="Per-attempt LLM request timeout.")
    llm_max_retries: int = Field(2, ge=0, description="SDK retries (with backoff) per LLM call.")
    prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        description="USD per million tokens per model, as JSON.",
    )

    @property
    def enabled(self) -> bool:
        key = self.anthropic_api_key
        return key is not None and bool(key.get_secret_value().strip())

    def api_key(self) -> str:
        """The key (call only when :attr:`enabled`)."""
        assert self.anthropic_api_key is not None
        return self.anthropic_api_key.get_secret_value()


class AuthSettings(BaseSettings):
    """Caller tokens and the supervisor-to-agent service secret (docs/security.md)."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    auth_tokens: SecretStr | None = Field(
        None, description="Caller tokens as comma-separated tenant=token pairs (supervisor)."
    )
    auth_tokens_file: Path | None = Field(
        None,
        description="YAML or JSON list of {tenant, token | token_sha256, expires_at, agents, "
        "role (caller, reviewer or admin), name}.",
    )
    service_token: SecretStr | None = Field(
        None,
        description="Shared secret (32+ characters) the supervisor signs its short-lived "
        "tokens for agents with; agents accept only those. Unset: agents are open.",
    )
    service_token_ttl_s: float = Field(
        60.0, ge=5, le=3600, description="Lifetime of one signed supervisor-to-agent token."
    )


class LimitSettings(BaseSettings):
    """What one request may carry, and how often a tenant may call."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    max_text_chars: int = Field(4000, ge=1, description="Longest request text accepted.")
    max_metadata_entries: int = Field(
        32, ge=0, description="Most entries accepted in a request's metadata map."
    )
    max_metadata_key_chars: int = Field(64, ge=1, description="Longest metadata key accepted.")
    max_metadata_value_chars: int = Field(512, ge=1, description="Longest metadata value accepted.")
    rate_limit_per_s: float = Field(
        0.0, ge=0, description="Requests per second per tenant; 0 turns rate limiting off."
    )
    rate_limit_burst: int = Field(
        0, ge=0, description="Requests a tenant may send at once; 0: one second's worth (>= 1)."
    )
    redis_url: SecretStr | None = Field(
        None, description="redis://host:port/db; rate limits are shared through it when set."
    )
    redis_timeout_s: float = Field(
        0.2, gt=0, description="Per-command Redis timeout; past it the request is let through."
    )
    max_in_flight: int = Field(
        64,
        ge=1,
        description="Calls a service runs at once; more wait in a queue (admission control).",
    )
    max_queue: int = Field(
        512,
        ge=0,
        description="Calls that may wait for a slot; beyond it calls are shed at once "
        "(RESOURCE_EXHAUSTED with retry-after).",
    )
    max_queue_wait_s: float = Field(
        30.0, gt=0, description="Longest a call waits for a slot before it is shed."
    )
    shed_retry_after_s: float = Field(1.0, gt=0, description="The retry-after a shed call is told.")

    auth_failure_rate_per_s: float = Field(
        1.0,
        ge=0,
        description="Failed authentications per second one peer address may make (on "
        "average) before its calls are refused outright; 0 turns this off.",
    )
    auth_failure_burst: int = Field(
        20, ge=1, description="Failed authentications one peer address may make at once."
    )
    refusal_audit_window_s: float = Field(
        10.0,
        ge=0,
        description="Repeated refusals of one kind from one peer within this window become "
        "one audit row with a count (0: a row for every refusal).",
    )


class EmbeddingSettings(BaseSettings):
    """The embedding model's threads and the micro-batching of concurrent queries
    (docs/performance.md has the measurements behind the defaults)."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    embed_threads: int = Field(
        0,
        ge=0,
        description="ONNX Runtime intra-op threads per service; 0: half the CPU count (at "
        "least 1), since the supervisor and the agents share the cores.",
    )
    embed_spinning: bool = Field(
        False, description="Let ONNX Runtime's threads busy-wait between runs (burns CPU)."
    )
    embed_max_batch: int = Field(
        32, ge=1, description="Most queued queries embedded together in one model run."
    )
    embed_batch_window_ms: float = Field(
        0.0,
        ge=0,
        le=50,
        description="How long the embedding thread waits for more queries before a run; 0: "
        "take what queued while the previous run was busy.",
    )

    def intra_op_threads(self, cpus: int | None) -> int:
        return self.embed_threads or max(1, (cpus or 1) // 2)


class TelemetrySettings(BaseSettings):
    """Logging and the standard OpenTelemetry variables this project reads."""

    model_config = SettingsConfigDict(extra="ignore")

    log_level: str = Field(
        "INFO",
        validation_alias=AliasChoices("SWITCHBOARD_LOG_LEVEL", "log_level"),
        description="DEBUG, INFO, WARNING or ERROR.",
    )
    sdk_disabled: bool = Field(
        False, validation_alias=AliasChoices("OTEL_SDK_DISABLED", "sdk_disabled")
    )
    service_name: str | None = Field(
        None, validation_alias=AliasChoices("OTEL_SERVICE_NAME", "service_name")
    )
    endpoint: str | None = Field(
        None, validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "endpoint")
    )
    traces_endpoint: str | None = Field(
        None, validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "traces_endpoint")
    )
    metrics_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "metrics_endpoint"),
    )
    protocol: str = Field(
        "grpc", validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_PROTOCOL", "protocol")
    )
    capture_content: bool = Field(
        False,
        validation_alias=AliasChoices(
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "capture_content"
        ),
        description="Opt-in: record prompt and completion text on spans.",
    )

    def endpoint_for(self, signal: str) -> str | None:
        specific = self.traces_endpoint if signal == "TRACES" else self.metrics_endpoint
        return specific or self.endpoint


class ServerSettings(BaseSettings):
    """How long the gRPC server keeps connections that do nothing or never finish a call."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_GRPC_", extra="ignore")

    max_connection_idle_s: float = Field(
        300.0, gt=0, description="A connection with no call for this long is closed (GOAWAY)."
    )
    max_connection_age_s: float = Field(
        300.0, gt=0, description="Connections are closed after this long (clients reconnect)."
    )
    max_connection_age_grace_s: float = Field(
        30.0,
        ge=0,
        description="Calls still open on an aged connection (one half-sent, say) get this "
        "long, then the connection is cut.",
    )
    handshake_timeout_s: float = Field(
        10.0, gt=0, description="A connection that has not completed its handshake is closed."
    )
    keepalive_time_s: float = Field(60.0, gt=0, description="Server keepalive ping interval.")
    keepalive_timeout_s: float = Field(
        20.0, gt=0, description="A keepalive ping unanswered this long closes the connection."
    )


class MemorySettings(BaseSettings):
    """Conversation memory (docs/memory.md): stored turns, the agent's window, retention."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_MEMORY_", extra="ignore")

    enabled: bool = Field(
        True, description="Store each answered turn of a session and show agents the window."
    )
    session_ttl_s: float = Field(
        86400.0,
        gt=0,
        description="A conversation idle this long starts afresh; its turns and summary are "
        "deleted by `switchboard db purge`.",
    )
    max_turns: int = Field(
        50, ge=2, le=1000, description="Turns kept per session (older ones live on in the summary)."
    )
    recent_turns: int = Field(
        4, ge=1, le=20, description="Most recent turns an agent sees verbatim."
    )
    summary_max_chars: int = Field(
        1200, ge=100, description="Longest running summary of the older turns."
    )
    turn_max_chars: int = Field(
        2000, ge=100, description="Longest user text or answer stored per turn."
    )
    timeout_s: float = Field(
        0.3,
        gt=0,
        description="Deadline of a conversation read or write; past it the answer goes out "
        "without (the failure is logged and counted).",
    )
    window_share: float = Field(
        0.35,
        gt=0,
        lt=1,
        description="Share of an agent's context_token_budget the conversation may take; "
        "passages get the rest.",
    )
    summary_model: str = Field(
        "claude-haiku-4-5", description="Cheap model that writes the summary when a key is set."
    )
    summary_timeout_s: float = Field(
        3.0, gt=0, description="Deadline of the summary call; past it the summary is extractive."
    )
    user_facts: bool = Field(
        True,
        description="Keep facts end users state about themselves (per tenant and user_id) and "
        "recall them in later conversations.",
    )
    user_fact_ttl_days: float = Field(90.0, gt=0, description="How long a user fact is kept.")
    recall_k: int = Field(3, ge=1, le=10, description="Most user facts recalled per request.")
    recall_min_similarity: float = Field(
        0.3, ge=-1, le=1, description="A user fact is recalled when this similar to the request."
    )


class StreamingSettings(BaseSettings):
    """Streamed answers (AskStream, InvokeStream; docs/streaming.md)."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_STREAM_", extra="ignore")

    screen: Literal["token", "sentence"] = Field(
        "token",
        description="Agent: how streamed LLM text passes output screening. token: each delta "
        "leaves at once (size, prompt leak and links checked per delta, the guard's rules per "
        "sentence; a sentence flagged late is taken back with a reset); sentence: text is held "
        "until its sentence is screened (flagged text never leaves; the first words wait for "
        "the first sentence).",
    )
    resume_window_s: float = Field(
        60.0,
        ge=0,
        description="Supervisor: how long a finished stream's events stay held for "
        "ResumeStream and attaching repeats (0: not held).",
    )
    max_held_events: int = Field(
        4000, ge=16, description="Supervisor: events held per stream for resuming."
    )
    detach_grace_s: float = Field(
        0.0,
        ge=0,
        description="Supervisor: how long a stream with a caller-chosen request_id keeps "
        "running after its caller went away, for ResumeStream (0: stopped at once, and the "
        "agent's LLM stream with it).",
    )


class ServiceSettings(BaseSettings):
    """What every service's root settings object holds; each service adds its own parts
    (the store and guard sections, and its own options)."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    data_dir: Path = Field(Path(".data"), description="Where embedded stores keep their files.")
    shutdown_grace_s: float = Field(10.0, ge=0, description="Drain time on SIGTERM.")
    llm: LLMSettings = Field(default_factory=LLMSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    streaming: StreamingSettings = Field(default_factory=StreamingSettings)
