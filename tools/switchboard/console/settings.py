"""The console's settings: where the supervisor is, where to listen, the SLA, the trace UI."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    """Read once by ``switchboard console`` (or given by a test)."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_CONSOLE_", extra="ignore")

    supervisor: str = Field(
        "127.0.0.1:50051", description="host:port of the supervisor serving the Review service."
    )
    host: str = Field("127.0.0.1", description="Address the console listens on.")
    port: int = Field(8080, ge=0, le=65535, description="Port the console listens on.")
    sla_s: float = Field(
        4 * 3600.0, gt=0, description="How long an item may wait; older ones are flagged."
    )
    jaeger_url: str = Field(
        "http://localhost:16686",
        description="Jaeger UI base URL; an item links to its trace there (empty: no link).",
    )
    call_timeout_s: float = Field(30.0, gt=0, description="Deadline of each Review call.")
