"""What the prompt registry holds, as plain values, and how versions are named.

A version is named ``AGENT@vN`` (``billing@v2``): that string is what every answer, span,
audit row, metric and feedback row carries as its prompt version. The checks here are the
ones every writer of the registry shares (the command line, the Review service, ingest), so
bad input is refused before anything is written.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from switchboard.core import errors
from switchboard.store._common import canonical_hash

#: Longest system prompt (and rules text) the registry accepts, in characters.
MAX_PROMPT_CHARS = 32_000
MAX_NOTE_CHARS = 2_000
_AGENT = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_REF = re.compile(r"^(?:(?P<agent>[a-z][a-z0-9_-]{0,62})@)?v?(?P<number>[0-9]{1,9})$")


class PromptVersion(BaseModel):
    """One immutable version: everything that shapes what the model is told."""

    model_config = ConfigDict(frozen=True)

    agent: str
    number: int
    system_prompt: str
    rules: str
    model: str
    params: dict[str, Any]
    content_hash: str
    author: str
    note: str
    created_at: datetime

    @property
    def ref(self) -> str:
        return version_ref(self.agent, self.number)


class PromptLabel(BaseModel):
    """Where a label points; with a canary, ``canary_percent`` of sessions get the canary."""

    model_config = ConfigDict(frozen=True)

    agent: str
    label: str
    version: int
    canary_version: int | None
    canary_percent: int
    revision: int
    updated_by: str
    updated_at: datetime

    def describe(self) -> str:
        main = f"v{self.version}"
        if self.canary_version is None or not self.canary_percent:
            return main
        return f"{main} {100 - self.canary_percent}%, v{self.canary_version} {self.canary_percent}%"


class LabelMove(BaseModel):
    """One audited move of a label."""

    model_config = ConfigDict(frozen=True)

    agent: str
    label: str
    action: str
    from_version: int | None
    to_version: int
    canary_version: int | None
    canary_percent: int
    actor: str
    reason: str
    detail: dict[str, Any]
    created_at: datetime


def version_ref(agent: str, number: int) -> str:
    """The version's name, as answers carry it: ``billing@v2``."""
    return f"{agent}@v{number}"


def check_agent(agent: str) -> str:
    if not _AGENT.match(agent or ""):
        raise errors.InvalidRequest(
            f"invalid agent name {agent!r}: lowercase letters, digits, '-' and '_', "
            "starting with a letter"
        )
    return agent


def check_label(label: str) -> str:
    if not _LABEL.match(label or ""):
        raise errors.InvalidRequest(
            f"invalid label {label!r}: lowercase letters, digits, '-' and '_' "
            "(e.g. production, staging)"
        )
    return label


def parse_version(agent: str, ref: str | int) -> int:
    """The version number ``ref`` names for ``agent``: ``3``, ``v3`` or ``agent@v3``.

    A version of another agent is refused: a label only ever points at its own agent's
    versions.
    """
    match = _REF.match(str(ref).strip())
    if match is None:
        raise errors.InvalidRequest(f"not a prompt version: {ref!r} (write 3, v3 or {agent}@v3)")
    owner = match.group("agent")
    if owner is not None and owner != agent:
        raise errors.InvalidRequest(
            f"{ref} is a version of agent {owner!r}, not of {agent!r}: a label of {agent!r} "
            f"may only point at {agent!r}'s versions"
        )
    number = int(match.group("number"))
    if number < 1:
        raise errors.InvalidRequest(f"prompt versions count from 1, got {ref!r}")
    return number


def check_content(system_prompt: str, rules: str, model: str, note: str) -> None:
    """Refuses a version that could never answer: empty or oversized text, no model."""
    if not system_prompt.strip():
        raise errors.InvalidRequest("the system prompt is empty")
    for what, text in (("system prompt", system_prompt), ("rules", rules)):
        if len(text) > MAX_PROMPT_CHARS:
            raise errors.InvalidRequest(
                f"the {what} has {len(text)} characters; at most {MAX_PROMPT_CHARS} are allowed"
            )
    if not model.strip() or len(model) > 128:
        raise errors.InvalidRequest("name the model the prompt is written for (1-128 characters)")
    if len(note) > MAX_NOTE_CHARS:
        raise errors.InvalidRequest(f"the note is longer than {MAX_NOTE_CHARS} characters")


def content_hash(system_prompt: str, rules: str, model: str, params: dict[str, Any]) -> str:
    """What makes two versions the same: text, rules, model and parameters (not the note)."""
    return canonical_hash(
        {"system_prompt": system_prompt, "rules": rules, "model": model, "params": params}
    )


def check_canary(canary: int | None, percent: int) -> None:
    if not 0 <= percent <= 100:
        raise errors.InvalidRequest(f"a canary share is 0-100 percent, got {percent}")
    if canary is None and percent:
        raise errors.InvalidRequest("a canary share needs a canary version")
    if canary is not None and not 1 <= percent <= 99:
        raise errors.InvalidRequest("a canary takes 1-99 percent of sessions")
