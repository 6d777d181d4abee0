"""What any service may read from a pending action's id without the secret to verify it.

Action ids are signed tokens (JWT) minted by the agent that proposed the action; only that
agent can verify them. The supervisor reads the agent's name from the id to send the
confirmation back where it came from, so a confirmation never depends on routing its text.
"""

from __future__ import annotations

from datetime import UTC, datetime

import jwt


def action_agent(token: str) -> str | None:
    """The agent an action id names, read without verifying it (for routing only)."""
    try:
        aud = jwt.decode(token, options={"verify_signature": False}).get("aud")
    except jwt.InvalidTokenError:
        return None
    return aud if isinstance(aud, str) else None


def action_expiry(token: str) -> datetime | None:
    """When an action id stops being confirmable, read without verifying it (the review
    inbox closes an approval no later than that)."""
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.InvalidTokenError:
        return None
    if not isinstance(exp, int | float):
        return None
    return datetime.fromtimestamp(exp, tz=UTC)
