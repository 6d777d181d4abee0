"""Tools the model may call: typed input, validation before any call, timeouts, allow-lists.

A :class:`Tool` pairs a pydantic input model (its JSON schema is what Claude is offered) with
an async handler. Input from the model is validated before the handler runs; anything wrong
becomes :class:`~switchboard.core.errors.ModelFeedback`, which goes back to the model as an
error tool result, never to the caller. Handlers get a :class:`ToolContext` whose
``customer_id`` comes from the request, never from the model, so a tool only ever sees the
calling customer's data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from switchboard.core.context import RequestContext
from switchboard.core.errors import ConfigurationError, ModelFeedback
from switchboard.core.llm import ToolSpec

I = TypeVar("I", bound=BaseModel)  # noqa: E741 - the input model of a tool
R = TypeVar("R")
ToolOutput = dict[str, Any]


@dataclass(frozen=True)
class ToolContext:
    """Who a tool runs for. Comes from the request (and the proposal), never from the model."""

    request_id: str
    tenant: str
    customer_id: str
    agent: str
    step: int = 0

    @classmethod
    def of(cls, ctx: RequestContext, agent: str, step: int = 0) -> ToolContext:
        """The tool context of one request (its tenant and customer, never the model's)."""
        return cls(ctx.request_id, ctx.tenant, ctx.customer_id, agent, step)

    def require_customer(self) -> str:
        """The customer id, or feedback telling the model that nobody is signed in."""
        if not self.customer_id:
            raise ModelFeedback(
                "This request carries no customer identity, so no account data can be read "
                "or changed. Tell the user to sign in to Brightlane or contact the team."
            )
        return self.customer_id


@dataclass(frozen=True)
class Proposal:
    """What a mutating tool would do: the sentence the approver reads, and the money at
    stake when there is any (approval policies may send large amounts to a reviewer)."""

    summary: str
    amount_usd: float | None = None


@dataclass(frozen=True)
class Tool(Generic[I]):
    """One tool. ``mutating`` tools run only after the caller confirms (see ``actions.py``).

    ``propose`` (mutating tools) checks the input against the customer's data before the
    change is offered, and returns the one-sentence summary the caller confirms.
    ``describe`` turns a result into the sentence the user reads after a confirmed run.
    """

    name: str
    description: str
    input_model: type[I]
    handler: Callable[[ToolContext, I], Awaitable[ToolOutput]]
    mutating: bool = False
    timeout_s: float = 5.0
    propose: Callable[[ToolContext, I], Awaitable[str | Proposal]] | None = None
    describe: Callable[[ToolOutput], str] | None = None

    def spec(self) -> ToolSpec:
        return ToolSpec(
            name=self.name,
            description=self.description,
            input_schema=self.input_model.model_json_schema(),
        )

    def validate(self, raw: Mapping[str, Any]) -> I:
        """The model's input as the typed model, or ModelFeedback saying what is wrong."""
        try:
            return self.input_model.model_validate(dict(raw))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            raise ModelFeedback(f"invalid input for tool {self.name}: {problems}") from None

    async def run(self, ctx: ToolContext, args: I, *, timeout: float | None = None) -> ToolOutput:
        """Runs the handler within ``min(timeout_s, timeout)``; feedback when it takes longer."""
        return await self._within(self.handler(ctx, args), timeout)

    async def proposal(
        self, ctx: ToolContext, args: I, *, timeout: float | None = None
    ) -> Proposal:
        """What a mutating tool would do, after ``propose`` checked it against the account."""
        if self.propose is None:
            return Proposal(f"Run {self.name} with {args.model_dump_json()}")
        made = await self._within(self.propose(ctx, args), timeout)
        return made if isinstance(made, Proposal) else Proposal(made)

    async def summary(self, ctx: ToolContext, args: I, *, timeout: float | None = None) -> str:
        """The sentence of :meth:`proposal`."""
        return (await self.proposal(ctx, args, timeout=timeout)).summary

    async def _within(self, work: Awaitable[R], timeout: float | None) -> R:
        limit = self.timeout_s if timeout is None else max(0.0, min(self.timeout_s, timeout))
        try:
            async with asyncio.timeout(limit):
                return await work
        except TimeoutError:
            raise ModelFeedback(
                f"tool {self.name} did not answer within {limit:.1f}s; nothing was returned"
            ) from None

    def result_text(self, output: ToolOutput) -> str:
        if self.describe is not None:
            return self.describe(output)
        return f"Done: {self.name} finished."


class ToolRegistry:
    """Tools by name; ``select`` gives the least-privilege subset an agent may use."""

    def __init__(self, tools: Iterable[Tool[Any]] = ()) -> None:
        self._tools: dict[str, Tool[Any]] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ConfigurationError(f"tool {tool.name!r} is registered twice")
            self._tools[tool.name] = tool

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def __bool__(self) -> bool:
        return bool(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def select(self, allowed: Sequence[str]) -> ToolRegistry:
        """Only the ``allowed`` tools; an unknown name is a configuration error."""
        unknown = [n for n in allowed if n not in self._tools]
        if unknown:
            raise ConfigurationError(
                f"unknown tools {unknown}; known tools: {', '.join(sorted(self._tools))}"
            )
        return ToolRegistry(self._tools[n] for n in dict.fromkeys(allowed))

    def get(self, name: str) -> Tool[Any]:
        """The tool, or feedback for a model that asked for one it was not offered."""
        tool = self._tools.get(name)
        if tool is None:
            offered = ", ".join(self._tools) or "none"
            raise ModelFeedback(f"there is no tool named {name!r} here; tools: {offered}")
        return tool

    def specs(self) -> list[ToolSpec]:
        return [t.spec() for t in self._tools.values()]
