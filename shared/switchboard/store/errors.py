"""The one exception type the durable store raises."""

from __future__ import annotations

from switchboard.core.errors import RuntimeFailure


class StoreError(RuntimeFailure):
    """The database failed or refused a write or read.

    Every failure inside :mod:`switchboard.store` (driver errors, lost connections, a missing
    schema, a broken invariant) surfaces as this type, so a caller on the request path can
    decide in one ``except`` whether to carry on without the store. Left uncaught it maps to
    ``UNAVAILABLE`` like any other :class:`RuntimeFailure`.
    """


class EffectPending(StoreError):
    """Another worker holds the claim on this tool step and has not finished it yet."""


class EffectMismatch(StoreError):
    """A tool step was replayed with a different tool or different arguments."""
