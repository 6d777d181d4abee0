"""The one typed request context, created at the servicer and passed down explicitly.

Per-request facts (who asks, for which request and conversation, with how much budget and
time left) travel in a :class:`RequestContext` rather than in loose metadata lookups. Its
:class:`Deadline` is a value object on the monotonic clock: every remote call gets a child
deadline with a margin kept back for the reply, and every blocking step checks it, so an
expired request stops its work instead of leaving it running.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from switchboard.core.auth import Principal
from switchboard.core.budget import Budget
from switchboard.core.errors import DeadlineExceeded

Clock = Callable[[], float]


@dataclass(frozen=True)
class Deadline:
    """When the work must be done, on ``clock`` (``at=None``: no deadline)."""

    at: float | None = None
    clock: Clock = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float | None, *, clock: Clock = time.monotonic) -> Deadline:
        """``seconds`` from now; None means no deadline."""
        return cls(None if seconds is None else clock() + seconds, clock)

    @classmethod
    def never(cls) -> Deadline:
        return cls(None)

    def remaining(self) -> float | None:
        """Seconds left (possibly negative), or None without a deadline."""
        return None if self.at is None else self.at - self.clock()

    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    def child(self, margin: float = 0.0, *, cap: float | None = None) -> Deadline:
        """A deadline ``margin`` seconds earlier (kept for the reply), at most ``cap`` away."""
        at = None if self.at is None else self.at - margin
        if cap is not None:
            capped = self.clock() + cap
            at = capped if at is None else min(at, capped)
        return Deadline(at, self.clock)

    def timeout(self, what: str, *, at_least: float = 0.0) -> float | None:
        """Seconds left to give the next step (None: no deadline); raises DeadlineExceeded
        when no more than ``at_least`` is left, too little to start ``what``. Keep time back
        for a reply with :meth:`child`, not here."""
        left = self.remaining()
        if left is None:
            return None
        if left <= at_least:
            raise DeadlineExceeded(f"the deadline ran out before {what}")
        return left

    def check(self, what: str) -> None:
        """Raises DeadlineExceeded when the deadline has passed."""
        if self.expired():
            raise DeadlineExceeded(f"the deadline ran out before {what}")


@dataclass(frozen=True)
class RequestContext:
    """Who asks, for which request, with what budget and time. Immutable; derive with
    :meth:`evolve`."""

    request_id: str
    tenant: str = ""  # from the authenticated principal only ("" when the service runs open)
    principal: Principal | None = None
    session_id: str = ""
    budget: Budget = field(default_factory=Budget)
    deadline: Deadline = field(default_factory=Deadline.never)
    customer_id: str = ""  # the end customer the caller acts for (ownership: docs/security.md)
    user_id: str = ""  # the end user (memory is kept per tenant and user)

    def evolve(self, **changes: object) -> RequestContext:
        return replace(self, **changes)  # type: ignore[arg-type]
