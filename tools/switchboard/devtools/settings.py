"""What the command line and the development tools read from the environment.

The command line is its own composition root: it reads these once per command and passes
them down, as the services do with theirs.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from switchboard.store import StoreSettings


class ToolSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    data_dir: Path = Field(Path(".data"), description="Where embedded stores keep their files.")
    token: SecretStr | None = Field(None, description="Bearer token `ask`/`route` send.")
    reviewer_token: SecretStr | None = Field(
        None, description="Reviewer token the demo resolves its escalation with (auth on)."
    )
    store: StoreSettings = Field(default_factory=StoreSettings)

    def store_for(self, database_url: str | None = None) -> tuple[StoreSettings, str]:
        """The store settings and URL, ``database_url`` (a ``--database-url``) winning."""
        settings = self.store
        if database_url:
            settings = settings.model_copy(update={"database_url": SecretStr(database_url)})
        return settings, settings.url(self.data_dir)
