"""Names and limits of the authentication scheme."""

from __future__ import annotations

from collections.abc import Iterable

AUTHORIZATION = "authorization"
SERVICE_SUBJECT = "supervisor"
SERVICE_AUDIENCE = "switchboard-agent"
SERVICE_ALGORITHM = "HS256"
MIN_TOKEN_CHARS = 16
MIN_SERVICE_SECRET_CHARS = 32
CLOCK_LEEWAY_S = 5.0
NEW_TOKEN_HINT = "python -c 'import secrets; print(secrets.token_hex(32))'"

Metadata = Iterable[tuple[str, str | bytes]]
