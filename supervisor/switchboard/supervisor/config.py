"""The agents file (YAML): which agents the supervisor routes to, and where they listen."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from switchboard.core.errors import ConfigurationError
from switchboard.core.types import AgentCard


class AgentEntry(BaseModel):
    """One agent: where it listens and, optionally, its card inline."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    address: str = Field(min_length=1, description="host:port, or any gRPC target (dns:///...).")
    description: str | None = None
    examples: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(
        default_factory=list, description="Optional rule: requests naming these go here."
    )

    @property
    def inline_card(self) -> AgentCard | None:
        if not self.description:
            return None
        return AgentCard(
            name=self.name,
            description=self.description,
            examples=self.examples,
            topics=self.topics,
            keywords=self.keywords,
        )


class AgentsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agents: list[AgentEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> AgentsFile:
        names = [a.name for a in self.agents]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"agent names must be unique; repeated: {', '.join(dupes)}")
        return self

    @classmethod
    def load(cls, path: Path) -> AgentsFile:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            return cls.model_validate(raw)
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"cannot read agents file {path}: {exc}") from exc
        except ValidationError as exc:
            raise ConfigurationError(f"invalid agents file {path}:\n{exc}") from exc
