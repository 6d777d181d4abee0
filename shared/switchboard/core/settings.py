"""Settings every Switchboard service shares. Each service extends this in one place."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from switchboard.core.pricing import DEFAULT_PRICES, ModelPrice


class CommonSettings(BaseSettings):
    """Read from the environment (``SWITCHBOARD_*`` plus the Anthropic SDK's own variables)."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    data_dir: Path = Field(Path(".data"), description="Where embedded stores keep their files.")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    max_text_chars: int = Field(4000, ge=1, description="Longest request text accepted.")
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
    shutdown_grace_s: float = Field(10.0, ge=0, description="Drain time on SIGTERM.")
    max_metadata_entries: int = Field(
        32, ge=0, description="Most entries accepted in a request's metadata map."
    )
    max_metadata_key_chars: int = Field(64, ge=1, description="Longest metadata key accepted.")
    max_metadata_value_chars: int = Field(512, ge=1, description="Longest metadata value accepted.")

    # -- authentication (docs/security.md) -------------------------------------------------
    auth_tokens: SecretStr | None = Field(
        None, description="Caller tokens as comma-separated tenant=token pairs (supervisor)."
    )
    auth_tokens_file: Path | None = Field(
        None,
        description="YAML or JSON list of {tenant, token | token_sha256, expires_at, agents}.",
    )
    service_token: SecretStr | None = Field(
        None,
        description="Shared secret (32+ characters) the supervisor signs its short-lived "
        "tokens for agents with; agents accept only those. Unset: agents are open.",
    )
    service_token_ttl_s: float = Field(
        60.0, ge=5, le=3600, description="Lifetime of one signed supervisor-to-agent token."
    )

    # -- rate limits (per tenant, at the supervisor) ---------------------------------------
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

    @property
    def llm_enabled(self) -> bool:
        key = self.anthropic_api_key
        return key is not None and bool(key.get_secret_value().strip())
