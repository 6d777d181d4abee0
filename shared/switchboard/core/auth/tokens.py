"""Caller tokens: where they are configured, kept as digests, and read off a call."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from switchboard.core.audit import as_utc
from switchboard.core.auth.constants import (
    AUTHORIZATION,
    MIN_TOKEN_CHARS,
    NEW_TOKEN_HINT,
    Metadata,
)
from switchboard.core.auth.principal import (
    CredentialError,
    Role,
)
from switchboard.core.errors import ConfigurationError
from switchboard.core.settings import AuthSettings

log = logging.getLogger(__name__)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenEntry(BaseModel):
    """One caller token: its tenant, the token (or its SHA-256), expiry and allowed agents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
    token: SecretStr | None = None
    token_sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$")
    expires_at: datetime | None = None
    agents: frozenset[str] | None = Field(
        None, description="Agents this tenant may use; unset: all."
    )
    role: Role = Field(
        Role.CALLER,
        description="caller (the Supervisor service), reviewer (the Review service, this "
        "tenant's items) or admin (both, every tenant).",
    )
    name: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,63}$",
        description="Who holds the token (a reviewer's name), recorded with their decisions.",
    )
    customers: frozenset[str] | None = Field(
        None,
        description="End customers this tenant may act for (its own); unset: whichever the "
        "tool backend says belong to the tenant. Never another tenant's (docs/security.md).",
    )

    @model_validator(mode="after")
    def _one_secret(self) -> TokenEntry:
        if (self.token is None) == (self.token_sha256 is None):
            raise ValueError("give exactly one of token and token_sha256")
        if self.token is not None and len(self.token.get_secret_value()) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"token is shorter than {MIN_TOKEN_CHARS} characters; make one with "
                f"{NEW_TOKEN_HINT}"
            )
        return self

    @property
    def digest(self) -> bytes:
        if self.token is not None:
            return digest(self.token.get_secret_value())
        assert self.token_sha256 is not None
        return bytes.fromhex(self.token_sha256)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and as_utc(self.expires_at) <= now


def parse_token_pairs(raw: str) -> list[TokenEntry]:
    """``tenant=token,tenant2=token2`` as entries; errors name the entry, never the token."""
    entries = []
    for position, pair in enumerate(raw.split(","), start=1):
        if not pair.strip():
            continue
        tenant, sep, token = pair.strip().partition("=")
        if not sep or not tenant.strip() or not token.strip():
            raise ConfigurationError(
                f"SWITCHBOARD_AUTH_TOKENS entry {position} is not 'tenant=token'"
            )
        try:
            entries.append(TokenEntry(tenant=tenant.strip(), token=SecretStr(token.strip())))
        except ValidationError as exc:
            raise ConfigurationError(
                f"SWITCHBOARD_AUTH_TOKENS entry {position} ({tenant.strip()!r}): "
                f"{_first_error(exc)}"
            ) from None
    return entries


def load_token_file(path: Path) -> list[TokenEntry]:
    """A YAML or JSON list of entries (or a mapping with a ``tokens`` list)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read auth tokens file {path}: {exc}") from None
    if isinstance(raw, dict) and "tokens" in raw:
        raw = raw["tokens"]
    if not isinstance(raw, list):
        raise ConfigurationError(f"auth tokens file {path} must hold a list of entries")
    entries = []
    for position, item in enumerate(raw, start=1):
        try:
            entries.append(TokenEntry.model_validate(item))
        except ValidationError as exc:
            raise ConfigurationError(
                f"auth tokens file {path}, entry {position}: {_first_error(exc)}"
            ) from None
    return entries


def _first_error(exc: ValidationError) -> str:
    """A validation error without the offending input (which may be a token)."""
    err = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])


class TokenTable:
    """Caller tokens by SHA-256 digest. Lookup compares against every entry in constant time."""

    def __init__(self, entries: Iterable[TokenEntry] = ()) -> None:
        self._entries = list(entries)
        self._digests = [e.digest for e in self._entries]
        seen: dict[bytes, str] = {}
        for entry, d in zip(self._entries, self._digests, strict=True):
            if d in seen and seen[d] != entry.tenant:
                raise ConfigurationError(
                    f"the same token is configured for tenants {seen[d]!r} and {entry.tenant!r}"
                )
            seen[d] = entry.tenant

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> TokenTable:
        entries: list[TokenEntry] = []
        if settings.auth_tokens is not None:
            entries += parse_token_pairs(settings.auth_tokens.get_secret_value())
        if settings.auth_tokens_file is not None:
            entries += load_token_file(settings.auth_tokens_file)
        return cls(entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def tenants(self) -> list[str]:
        return sorted({e.tenant for e in self._entries})

    def customer_lists(self) -> dict[str, frozenset[str]]:
        """Each tenant's configured customers (the union of its entries' ``customers``), for
        the tenants whose entries list any; a customer listed for two tenants is an error."""
        lists: dict[str, frozenset[str]] = {}
        for entry in self._entries:
            if entry.customers is not None:
                lists[entry.tenant] = lists.get(entry.tenant, frozenset()) | entry.customers
        owner: dict[str, str] = {}
        for tenant, customers in lists.items():
            for customer in customers:
                if owner.setdefault(customer, tenant) != tenant:
                    raise ConfigurationError(
                        f"customer {customer!r} is listed for tenants {owner[customer]!r} and "
                        f"{tenant!r}; a customer belongs to one tenant"
                    )
        return lists

    def lookup(self, token: str) -> TokenEntry | None:
        presented = digest(token)
        found: TokenEntry | None = None
        for entry, d in zip(self._entries, self._digests, strict=True):
            if hmac.compare_digest(presented, d) and found is None:
                found = entry
        return found


def bearer_token(metadata: Metadata | None) -> str:
    """The token of the single ``authorization: Bearer <token>`` entry, or CredentialError."""
    values = [v for k, v in metadata or () if k.lower() == AUTHORIZATION]
    if not values:
        raise CredentialError(
            "missing credentials: send metadata 'authorization: Bearer <token>'",
            reason="missing",
        )
    if len(values) > 1:
        raise CredentialError("send exactly one 'authorization' metadata entry", reason="malformed")
    value = values[0]
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    scheme, _, token = text.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise CredentialError(
            "malformed credentials: the 'authorization' metadata must be 'Bearer <token>'",
            reason="malformed",
        )
    return token


# -- service tokens (supervisor -> agent) ----------------------------------------------------
