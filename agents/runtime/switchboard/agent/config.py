"""An agent's domain configuration: ``agents/<name>/agent.yaml`` and its prompt and knowledge."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from switchboard.core.errors import ConfigurationError
from switchboard.core.types import AgentCard, Approver


class RetrievalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chunking: Literal["fixed", "structure"] = "structure"
    chunk_size: int = Field(900, ge=100, le=8000, description="Characters per chunk.")
    chunk_overlap: int = Field(150, ge=0, description="Characters shared by neighbours.")
    top_k: int = Field(4, ge=1, le=50)
    min_score: float = Field(
        0.4,
        ge=-1.0,
        le=1.0,
        description="When the best passage's cosine is below this, nothing answers the "
        "request: it is escalated to a person.",
    )
    passage_min_score: float = Field(
        0.25,
        ge=-1.0,
        le=1.0,
        description="Once the best passage clears min_score, other passages above this join "
        "the context; below it they are noise.",
    )
    offline_top_k: int = Field(
        8,
        ge=1,
        le=50,
        description="Passages the offline answer may quote from (at least top_k): a section "
        "split over several chunks is found whole; the LLM still sees top_k.",
    )
    min_answer_confidence: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="An offline (quoted) answer whose calibrated confidence is below this is "
        "not sent: the request is escalated, as one below min_score is.",
    )
    mode: Literal["dense", "hybrid"] = Field(
        "dense", description="dense: vector search; hybrid: dense + BM25 fused by RRF."
    )
    trusted_sources: list[str] = Field(
        default_factory=lambda: ["knowledge-dir"],
        description="Ingestion sources (`switchboard ingest --source`) whose chunks may be "
        "retrieved; chunks from any other source, or with no recorded source, are dropped "
        "and audited. knowledge-dir is the agent's reviewed knowledge folder.",
    )

    @model_validator(mode="after")
    def _overlap_fits(self) -> RetrievalConfig:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self


class LLMConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = "claude-sonnet-4-6"
    max_tokens: int = Field(700, ge=16, le=8192)
    context_token_budget: int = Field(3000, ge=200, description="Tokens of retrieved context.")
    max_turns: int = Field(
        4, ge=1, le=12, description="Most model calls per request when tools are used."
    )
    max_tool_calls_per_turn: int = Field(
        4,
        ge=1,
        le=32,
        description="Most tool calls run from one model turn; further calls in that turn "
        "are answered 'not run' (a hostile or confused model cannot fan out).",
    )
    uncited: Literal["answer", "escalate"] = Field(
        "answer",
        description="An answer that cites no passage and was given no tool result. answer: "
        "it is sent, marked uncited, with confidence at most 0.2 (declines of out-of-scope "
        "requests, clarifying questions and 'the documents do not cover this' are such "
        "answers). escalate: strict grounding; every such answer goes to a person instead "
        "(ESCALATED, review reason uncited), those included.",
    )


class ApprovalPolicy(BaseModel):
    """Who approves one mutating tool's actions: the caller (default) or a reviewer."""

    model_config = ConfigDict(extra="forbid")

    approver: Approver = Field(
        Approver.REVIEWER,
        description="reviewer: a person approves in the Review service; caller: the caller "
        "confirms with confirm_action.",
    )
    above_usd: float | None = Field(
        None,
        ge=0,
        description="With approver=reviewer: only actions moving more than this many dollars "
        "need a reviewer; smaller ones the caller confirms.",
    )

    def approver_for(self, amount_usd: float | None) -> Approver:
        small = self.above_usd is not None and (amount_usd is None or amount_usd <= self.above_usd)
        return Approver.CALLER if self.approver is Approver.REVIEWER and small else self.approver


class AgentConfig(BaseModel):
    """One domain agent, as written in ``agents/<name>/agent.yaml``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    description: str = Field(min_length=1)
    examples: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(
        default_factory=list,
        description="Optional routing rule: requests naming one of these come straight here.",
    )
    system_prompt: Path
    knowledge_dir: Path
    collection: str | None = None
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    tools: list[str] = Field(
        default_factory=list,
        description="Tools this agent's model may call (least privilege); none by default.",
    )
    approvals: dict[str, ApprovalPolicy] = Field(
        default_factory=dict,
        description="Per mutating tool: who approves its actions (default: the caller).",
    )

    @model_validator(mode="after")
    def _approvals_for_tools(self) -> AgentConfig:
        unknown = sorted(set(self.approvals) - set(self.tools))
        if unknown:
            raise ValueError(f"approvals name tools this agent does not have: {unknown}")
        return self

    @field_validator("tools")
    @classmethod
    def _known_tools(cls, names: list[str]) -> list[str]:
        from switchboard.agent.tools import TOOL_NAMES

        unknown = [n for n in names if n not in TOOL_NAMES]
        if unknown:
            raise ValueError(f"unknown tools {unknown}; known tools: {', '.join(TOOL_NAMES)}")
        return list(dict.fromkeys(names))

    @property
    def collection_name(self) -> str:
        return self.collection or f"switchboard-{self.name}"

    def card(self) -> AgentCard:
        """The card the router sees: description, examples and the knowledge base's topics."""
        from switchboard.agent.knowledge.ingest import knowledge_topics

        return AgentCard(
            name=self.name,
            description=self.description,
            examples=self.examples,
            topics=knowledge_topics(self.knowledge_dir),
            keywords=self.keywords,
        )

    def system_prompt_text(self) -> str:
        return self.system_prompt.read_text(encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> AgentConfig:
        """Reads the file; relative paths inside it are relative to the file."""
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"cannot read agent config {path}: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigurationError(f"agent config {path} must be a mapping")
        try:
            config = cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigurationError(f"invalid agent config {path}:\n{exc}") from exc
        base = path.resolve().parent
        config.system_prompt = base / config.system_prompt
        config.knowledge_dir = base / config.knowledge_dir
        if not config.system_prompt.is_file():
            raise ConfigurationError(f"system prompt {config.system_prompt} does not exist")
        if not config.knowledge_dir.is_dir():
            raise ConfigurationError(f"knowledge folder {config.knowledge_dir} does not exist")
        return config
