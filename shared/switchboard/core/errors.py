"""The three kinds of error, kept apart.

* Caller misuse (:class:`CallerError`): the request is wrong; retrying it unchanged fails again.
* Runtime failure (:class:`RuntimeFailure`): something we depend on failed; a retry may work.
* Feedback for the model (:class:`ModelFeedback`): goes back to the LLM as a tool result,
  never to the caller.

Domain code raises these; exactly one table (``switchboard.core.grpc_errors``) maps them to
gRPC status codes.
"""

from __future__ import annotations


class SwitchboardError(Exception):
    """Base of every error Switchboard raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CallerError(SwitchboardError):
    """The caller sent something we cannot serve."""


class InvalidRequest(CallerError):
    """A field is missing, malformed or out of range."""


class NotFound(CallerError):
    """The caller named something that does not exist (an agent, say)."""


class Unauthenticated(CallerError):
    """No credentials, or credentials that are wrong or expired."""


class PermissionDenied(CallerError):
    """Valid credentials that do not allow this call (e.g. a caller token at an agent)."""


class ResourceExhausted(CallerError):
    """A budget (tokens, cost, hops) is spent or a rate limit is hit."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Conflict(CallerError):
    """The request clashes with an earlier one (a request_id reused for another request)."""


class FailedPrecondition(CallerError):
    """The thing named is not in a state that allows the call (a review item already
    resolved, or expired; an action only a reviewer may approve)."""


class InProgress(CallerError):
    """The same request is still running; retry shortly for its result."""


class RuntimeFailure(SwitchboardError):
    """A dependency failed; the request itself may be fine."""


class Unavailable(RuntimeFailure):
    """A dependency (an agent, the vector store) cannot be reached right now."""


class DeadlineExceeded(RuntimeFailure):
    """The caller's deadline ran out before the work finished."""


class UpstreamError(RuntimeFailure):
    """An outside API (the LLM provider) failed after its own retries."""


class UpstreamRejected(UpstreamError):
    """The provider refused our request as malformed (HTTP 4xx): a bug on our side, not an
    outage, so it must not count toward the provider's circuit breaker."""


class ConfigurationError(SwitchboardError):
    """The service is misconfigured; raised at start-up, never per request."""


class ModelFeedback(SwitchboardError):
    """A tool call from the model was invalid; the message is shown to the model."""
