"""Who is calling: caller tokens at the supervisor, the supervisor's signed tokens at agents.

Callers (backend services, one *tenant* each) send ``authorization: Bearer <token>`` on every
RPC. The supervisor knows their tokens from ``SWITCHBOARD_AUTH_TOKENS`` (``tenant=token``
pairs) and/or ``SWITCHBOARD_AUTH_TOKENS_FILE`` and keeps only their SHA-256 digests, compared
in constant time. Agents accept only the supervisor: it signs a JWT (HS256, ``sub=supervisor``,
``aud=switchboard-agent``, about a minute long) with the shared ``SWITCHBOARD_SERVICE_TOKEN``,
so a leaked agent-bound token is worth little and caller tokens never reach agents.

No gRPC here: :mod:`switchboard.core.access` applies this in a server interceptor. Messages
say what is wrong and never contain a token.
"""

from switchboard.core.auth.authenticators import (
    Authenticator,
    CallerAuthenticator,
    ServiceAuthenticator,
)
from switchboard.core.auth.constants import (
    AUTHORIZATION,
    CLOCK_LEEWAY_S,
    MIN_SERVICE_SECRET_CHARS,
    MIN_TOKEN_CHARS,
    NEW_TOKEN_HINT,
    SERVICE_ALGORITHM,
    SERVICE_AUDIENCE,
    SERVICE_SUBJECT,
    Metadata,
)
from switchboard.core.auth.principal import (
    ANONYMOUS,
    CUSTOMER_NOT_OWNED,
    ROLE_POLICY,
    AccessDenied,
    CredentialError,
    CustomerDenied,
    Principal,
    PrincipalKind,
    Role,
    current_principal,
    reset_principal,
    set_principal,
)
from switchboard.core.auth.service_tokens import (
    ServiceTokenIssuer,
    service_secret,
    verify_service_token,
)
from switchboard.core.auth.tokens import (
    TokenEntry,
    TokenTable,
    bearer_token,
    digest,
    load_token_file,
    parse_token_pairs,
)

__all__ = [
    "ANONYMOUS",
    "AUTHORIZATION",
    "CLOCK_LEEWAY_S",
    "CUSTOMER_NOT_OWNED",
    "MIN_SERVICE_SECRET_CHARS",
    "MIN_TOKEN_CHARS",
    "NEW_TOKEN_HINT",
    "ROLE_POLICY",
    "SERVICE_ALGORITHM",
    "SERVICE_AUDIENCE",
    "SERVICE_SUBJECT",
    "AccessDenied",
    "Authenticator",
    "CallerAuthenticator",
    "CredentialError",
    "CustomerDenied",
    "Metadata",
    "Principal",
    "PrincipalKind",
    "Role",
    "ServiceAuthenticator",
    "ServiceTokenIssuer",
    "TokenEntry",
    "TokenTable",
    "bearer_token",
    "current_principal",
    "digest",
    "load_token_file",
    "parse_token_pairs",
    "reset_principal",
    "service_secret",
    "set_principal",
    "verify_service_token",
]
