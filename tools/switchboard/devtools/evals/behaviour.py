"""The behaviour suite: requests the team wrote for the demo agents, with what must happen.

Each case (``tests/data/behaviour.yaml``) names a request and its expected end: the agent
that answers and the documents and facts its answer holds, or a clarification, an
escalation, a refusal, or a compound answer in parts.

This module is the suite's vocabulary and judge: the case file's schema, the profiles of
what counts as an answer on each backend, and :func:`check_reply`, which lists every
expectation a reply misses. Asking a supervisor (and probing it for the capabilities cases
``require``) is :mod:`~switchboard.devtools.evals.behaviour_run`; the per-case results and
the pass rates are :mod:`~switchboard.devtools.evals.behaviour_report`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from switchboard.v1 import common_pb2, supervisor_pb2

DEFAULT_CASES = Path("tests/data/behaviour.yaml")


class Kind(StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    ESCALATE = "escalate"
    REFUSE = "refuse"
    COMPOUND = "compound"


class Capability(StrEnum):
    """Features a case may depend on; each is detected by a probe (``behaviour_run.probe``)."""

    GUARD = "guard"  # prompt-injection screening refuses (RouteDecision.blocked)
    COMPOUND = "compound"  # requests for several agents are split (RouteDecision.parts)
    SESSION = "session"  # follow-ups stay with the session's agent (route method "session")


# The end state each kind expects (answers depend on the backend: see Profile).
STATUS_OF_KIND = {
    Kind.CLARIFY: "NEEDS_CLARIFICATION",
    Kind.ESCALATE: "ESCALATED",
    Kind.REFUSE: "REFUSED",
}


class PartExpectation(BaseModel):
    """One part of a compound answer, in the order of the request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent: str = Field(min_length=1)
    cites: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)
    kind: Kind
    text: str = Field(min_length=1)
    turns: tuple[str, ...] = Field((), description="Earlier requests of the same session.")
    ask_agent: str = Field("", description="Send to this agent instead of routing.")
    agent: str = Field("", description="The agent that must answer or escalate.")
    route_method: str = Field("", description="RouteDecision.method, when it matters.")
    candidates: tuple[str, ...] = Field((), description="Agents the clarification must offer.")
    cites: tuple[str, ...] = Field((), description="Knowledge files that must be cited.")
    facts: tuple[str, ...] = Field((), description="Substrings the answer must contain.")
    must_not_contain: tuple[str, ...] = ()
    parts: tuple[PartExpectation, ...] = ()
    requires: tuple[Capability, ...] = ()
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Case:
        k = self.kind
        if k in (Kind.ANSWER, Kind.ESCALATE) and not self.agent:
            raise ValueError(f"{self.id}: an {k.value} case names the agent")
        if k in (Kind.CLARIFY, Kind.REFUSE, Kind.COMPOUND) and self.agent:
            raise ValueError(f"{self.id}: no single agent answers a {k.value} case")
        if k in (Kind.CLARIFY, Kind.ESCALATE, Kind.REFUSE) and self.cites:
            raise ValueError(f"{self.id}: a {k.value} case cites nothing")
        if k == Kind.COMPOUND and len(self.parts) < 2:
            raise ValueError(f"{self.id}: a compound case expects at least two parts")
        if k != Kind.COMPOUND and self.parts:
            raise ValueError(f"{self.id}: only compound cases have parts")
        if self.candidates and k != Kind.CLARIFY:
            raise ValueError(f"{self.id}: only clarify cases expect candidates")
        if k == Kind.REFUSE and Capability.GUARD not in self.requires:
            raise ValueError(f"{self.id}: a refuse case requires the guard")
        if k == Kind.COMPOUND and Capability.COMPOUND not in self.requires:
            raise ValueError(f"{self.id}: a compound case requires compound")
        if self.turns and Capability.SESSION not in self.requires:
            raise ValueError(f"{self.id}: a case with earlier turns requires session")
        return self


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    cases: list[Case]

    @model_validator(mode="after")
    def _unique_ids(self) -> CaseFile:
        repeated = [i for i, n in Counter(c.id for c in self.cases).items() if n > 1]
        if repeated:
            raise ValueError(f"case ids must be unique; repeated: {', '.join(repeated)}")
        return self


def load_cases(path: Path) -> list[Case]:
    return CaseFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).cases


@dataclass(frozen=True)
class Profile:
    """What counts as an answer on the backend under test.

    ``llm_facts``: check ``facts`` in answers the model wrote (mode ``llm``). Off for a fake
    model, whose prose is not the knowledge base's; text the system writes itself (offline
    quotes, escalation messages) is always checked.
    """

    name: str
    answer_statuses: frozenset[str]
    llm_facts: bool = True


PROFILES = {
    "offline": Profile("offline", frozenset({"DEGRADED"})),
    "llm": Profile("llm", frozenset({"ANSWERED"})),
    "any": Profile("any", frozenset({"ANSWERED", "DEGRADED"})),
}


def expected_statuses(case: Case, profile: Profile) -> frozenset[str]:
    if case.kind in (Kind.ANSWER, Kind.COMPOUND):
        return profile.answer_statuses
    return frozenset({STATUS_OF_KIND[case.kind]})


def status_name(value: int) -> str:
    """The name of a ``common_pb2.Status`` value, as the cases and reports spell it."""
    return common_pb2.Status.Name(value)  # type: ignore[arg-type]


def _facts_checked(profile: Profile, mode: str) -> bool:
    return profile.llm_facts or mode != "llm"


def _missing(needles: Iterable[str], haystack: str) -> list[str]:
    lowered = haystack.lower()
    return [n for n in needles if n.lower() not in lowered]


def check_reply(case: Case, reply: supervisor_pb2.AskResponse, profile: Profile) -> list[str]:
    """Every expectation of ``case`` that ``reply`` misses, as readable reasons (none: pass)."""
    reasons: list[str] = []
    status = status_name(reply.status)
    wanted = expected_statuses(case, profile)
    if status not in wanted:
        reasons.append(f"status {status}, expected {' or '.join(sorted(wanted))}")
    if case.kind in (Kind.ANSWER, Kind.ESCALATE) and reply.agent != case.agent:
        reasons.append(f"agent {reply.agent or '(none)'!r}, expected {case.agent!r}")
    if case.kind in (Kind.CLARIFY, Kind.REFUSE) and reply.agent:
        reasons.append(f"agent {reply.agent!r} ran; expected none")
    sources = [c.source_id for c in reply.citations]
    if case.kind in (Kind.CLARIFY, Kind.ESCALATE, Kind.REFUSE) and sources:
        reasons.append(f"cites {sources}; expected no citations")
    if case.kind == Kind.REFUSE:
        if not reply.route.blocked:
            reasons.append("route.blocked is false")
        elif not reply.route.block_reason:
            reasons.append("blocked without a block_reason")
    elif reply.route.blocked:
        reasons.append(f"blocked by screening ({reply.route.block_reason}); expected not")
    if case.route_method and reply.route.method != case.route_method:
        reasons.append(f"route method {reply.route.method!r}, expected {case.route_method!r}")
    if case.candidates:
        offered = {c.agent for c in reply.candidates}
        if lacking := [a for a in case.candidates if a not in offered]:
            reasons.append(f"candidates {sorted(offered)} lack {lacking}")
    if lacking := [c for c in case.cites if c not in sources]:
        reasons.append(f"does not cite {lacking} (cites {sources})")
    if _facts_checked(profile, reply.mode) and (lacking := _missing(case.facts, reply.answer)):
        reasons.append(f"answer lacks {lacking}")
    if leaked := [s for s in case.must_not_contain if s.lower() in reply.answer.lower()]:
        reasons.append(f"answer contains {leaked}")
    if case.kind == Kind.COMPOUND:
        reasons.extend(_check_parts(case, reply, profile))
    return reasons


def _check_parts(case: Case, reply: supervisor_pb2.AskResponse, profile: Profile) -> list[str]:
    got = [p.agent for p in reply.parts]
    want = [p.agent for p in case.parts]
    if got != want:
        return [f"parts answered by {got}, expected {want}"]
    reasons: list[str] = []
    for i, (part, expected) in enumerate(zip(reply.parts, case.parts, strict=True), start=1):
        status = status_name(part.status)
        if status not in profile.answer_statuses:
            reasons.append(f"part {i} ({part.agent}) status {status}")
        sources = [c.source_id for c in part.citations]
        if lacking := [c for c in expected.cites if c not in sources]:
            reasons.append(f"part {i} does not cite {lacking}")
        if _facts_checked(profile, part.mode) and (
            lacking := _missing(expected.facts, part.answer)
        ):
            reasons.append(f"part {i} answer lacks {lacking}")
    return reasons
