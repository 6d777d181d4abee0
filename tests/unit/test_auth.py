"""Caller tokens, the supervisor's service tokens and the two authenticators."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest
from pydantic import SecretStr

from switchboard.core.auth import (
    ANONYMOUS,
    SERVICE_AUDIENCE,
    AccessDenied,
    CallerAuthenticator,
    CredentialError,
    Principal,
    PrincipalKind,
    ServiceAuthenticator,
    ServiceTokenIssuer,
    TokenEntry,
    TokenTable,
    bearer_token,
    load_token_file,
    parse_token_pairs,
    service_secret,
    verify_service_token,
)
from switchboard.core.errors import ConfigurationError, PermissionDenied, Unauthenticated
from switchboard.core.settings import AuthSettings

ACME = "acme-token-0123456789abcdef"
GLOBEX = "globex-token-0123456789abcdef"
SECRET = "s" * 40
OTHER_SECRET = "o" * 40


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def load_entries(raw: list[dict[str, object]]) -> list[TokenEntry]:
    return [TokenEntry.model_validate(r) for r in raw]


def caller_auth(**kwargs: object) -> CallerAuthenticator:
    table = TokenTable(parse_token_pairs(f"acme={ACME}, globex={GLOBEX}"))
    return CallerAuthenticator(table, **kwargs)  # type: ignore[arg-type]


# -- parsing ---------------------------------------------------------------------------------


def test_pairs_parse_and_errors_never_echo_the_token() -> None:
    entries = parse_token_pairs(f" acme={ACME} ,, globex={GLOBEX}")
    assert [e.tenant for e in entries] == ["acme", "globex"]
    for bad in (f"acme{ACME}", f"={ACME}", "acme=", "acme=short-token"):
        with pytest.raises(ConfigurationError) as info:
            parse_token_pairs(f"globex={GLOBEX},{bad}")
        assert "entry 2" in info.value.message
        assert ACME not in info.value.message and "short-token" not in info.value.message


def test_token_file_yaml_and_json(tmp_path: Path) -> None:
    digest = hashlib.sha256(GLOBEX.encode()).hexdigest()
    yaml_file = tmp_path / "tokens.yaml"
    yaml_file.write_text(
        f"- tenant: acme\n  token: {ACME}\n  agents: [billing]\n"
        f"- tenant: globex\n  token_sha256: {digest}\n  expires_at: 2031-01-01T00:00:00Z\n"
    )
    json_file = tmp_path / "tokens.json"
    json_file.write_text(json.dumps({"tokens": [{"tenant": "acme", "token": ACME}]}))
    entries = load_token_file(yaml_file)
    assert entries[0].agents == frozenset({"billing"})
    assert entries[1].expires_at == datetime(2031, 1, 1, tzinfo=UTC)
    table = TokenTable(entries)
    assert table.lookup(GLOBEX) is entries[1] and table.lookup(ACME) is entries[0]
    assert [e.tenant for e in load_token_file(json_file)] == ["acme"]


@pytest.mark.parametrize(
    "content",
    [
        "tenant: acme",  # not a list
        f"- tenant: acme\n  token: {ACME}\n  token_sha256: {'0' * 64}",  # both
        "- tenant: acme",  # neither
        f"- tenant: 'bad tenant'\n  token: {ACME}",
        f"- tenant: acme\n  token: {ACME}\n  colour: red",
        "- [unclosed",
    ],
)
def test_bad_token_files_are_configuration_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(content)
    with pytest.raises(ConfigurationError) as info:
        load_token_file(path)
    assert ACME not in info.value.message


def test_one_token_for_two_tenants_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="same token"):
        TokenTable(parse_token_pairs(f"acme={ACME},globex={ACME}"))


def test_table_from_settings_combines_env_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps([{"tenant": "globex", "token": GLOBEX}]))
    monkeypatch.setenv("SWITCHBOARD_AUTH_TOKENS", f"acme={ACME}")
    monkeypatch.setenv("SWITCHBOARD_AUTH_TOKENS_FILE", str(path))
    table = TokenTable.from_settings(AuthSettings())
    assert table.tenants == ["acme", "globex"]
    assert "acme-token" not in repr(AuthSettings())  # a SecretStr: never printed


# -- bearer metadata -------------------------------------------------------------------------


def test_bearer_token_parsing() -> None:
    assert bearer_token(bearer(ACME)) == ACME
    assert bearer_token([("authorization", f"bearer   {ACME} ".encode())]) == ACME
    cases = {
        "missing": [("x-other", "1")],
        "malformed": [("authorization", f"Basic {ACME}")],
    }
    for reason, metadata in cases.items():
        with pytest.raises(CredentialError) as info:
            bearer_token(metadata)
        assert info.value.reason == reason and ACME not in info.value.message
    with pytest.raises(CredentialError, match="exactly one"):
        bearer_token([*bearer(ACME), *bearer(GLOBEX)])
    with pytest.raises(CredentialError, match="Bearer <token>"):
        bearer_token([("authorization", "Bearer ")])


# -- caller authenticator --------------------------------------------------------------------


def test_caller_authenticator_accepts_known_tokens_only() -> None:
    auth = caller_auth()
    assert not auth.open
    principal = auth.authenticate(bearer(GLOBEX))
    assert principal == Principal(PrincipalKind.TENANT, "globex")
    assert principal.tenant == "globex"
    with pytest.raises(CredentialError) as info:
        auth.authenticate(bearer(ACME + "x"))
    assert info.value.reason == "unknown_token" and ACME not in info.value.message
    assert isinstance(info.value, Unauthenticated)
    with pytest.raises(CredentialError, match="missing"):
        auth.authenticate([])


def test_expired_tokens_are_refused_with_the_time() -> None:
    now = datetime(2030, 6, 1, tzinfo=UTC)
    entries = load_entries(
        [
            {"tenant": "acme", "token": ACME, "expires_at": "2030-05-31T23:59:59Z"},
            {"tenant": "globex", "token": GLOBEX, "expires_at": "2030-06-01T00:00:01"},
        ]
    )
    auth = CallerAuthenticator(TokenTable(entries), clock=lambda: now)
    with pytest.raises(CredentialError) as info:
        auth.authenticate(bearer(ACME))
    assert info.value.reason == "expired" and info.value.tenant == "acme"
    assert "2030-05-31T23:59:59+00:00" in info.value.message and ACME not in info.value.message
    assert auth.authenticate(bearer(GLOBEX)).tenant == "globex"  # naive time: UTC


def test_allow_list_reaches_the_principal() -> None:
    entries = load_entries([{"tenant": "acme", "token": ACME, "agents": ["billing"]}])
    principal = CallerAuthenticator(TokenTable(entries)).authenticate(bearer(ACME))
    principal.check_agent("billing")
    with pytest.raises(AccessDenied) as info:
        principal.check_agent("account")
    assert isinstance(info.value, PermissionDenied) and info.value.reason == "agent_not_allowed"
    assert "billing" in info.value.message and "account" in info.value.message
    Principal(PrincipalKind.TENANT, "globex").check_agent("anything")  # no list: all allowed


def test_service_token_at_the_supervisor_is_permission_denied() -> None:
    auth = caller_auth(service_secret=SECRET)
    with pytest.raises(AccessDenied) as info:
        auth.authenticate(bearer(ServiceTokenIssuer(SECRET).token()))
    assert info.value.reason == "service_token"
    # the same JWT signed with another secret is just an unknown token
    with pytest.raises(CredentialError):
        auth.authenticate(bearer(ServiceTokenIssuer(OTHER_SECRET).token()))


def test_open_without_tokens() -> None:
    auth = CallerAuthenticator(TokenTable())
    assert auth.open and auth.authenticate([]) is ANONYMOUS
    assert ANONYMOUS.tenant is None


# -- service tokens --------------------------------------------------------------------------


def test_issued_tokens_verify_and_are_reused_until_half_life() -> None:
    clock = [time.time()]
    issuer = ServiceTokenIssuer(SECRET, ttl_s=60, clock=lambda: clock[0])
    first = issuer.token()
    claims = jwt.decode(first, SECRET, algorithms=["HS256"], audience=SERVICE_AUDIENCE)
    assert claims["sub"] == "supervisor" and claims["exp"] - claims["iat"] == 60
    assert verify_service_token(first, SECRET).kind == PrincipalKind.SERVICE
    clock[0] += 29
    assert issuer.token() == first
    clock[0] += 2
    assert issuer.token() != first
    assert issuer.metadata() == [("authorization", f"Bearer {issuer.token()}")]


def forge(secret: str, *, age_s: int = 0, **claims: object) -> str:
    """A token made now (tokens made at collection time would expire in a slow run)."""
    now = int(time.time()) - age_s
    base = {"sub": "supervisor", "aud": SERVICE_AUDIENCE, "iat": now, "exp": now + 60}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, secret, algorithm="HS256")


@pytest.mark.parametrize(
    ("make", "error", "reason"),
    [
        (lambda: forge(OTHER_SECRET), CredentialError, "invalid_token"),
        (lambda: forge(SECRET, age_s=600), CredentialError, "expired"),
        (lambda: forge(SECRET, exp=None), CredentialError, "invalid_token"),  # exp required
        (lambda: forge(SECRET, aud="someone-else"), AccessDenied, "wrong_audience"),
        (lambda: forge(SECRET, sub="billing"), AccessDenied, "wrong_subject"),
        (lambda: "not-a-jwt", CredentialError, "invalid_token"),
        (
            lambda: jwt.encode({"sub": "supervisor", "aud": SERVICE_AUDIENCE}, None, "none"),
            CredentialError,
            "invalid_token",
        ),
    ],
    ids=["wrong-secret", "expired", "no-exp", "wrong-aud", "wrong-sub", "garbage", "alg-none"],
)
def test_bad_service_tokens(make: Callable[[], str], error: type[Exception], reason: str) -> None:
    token = make()
    auth = ServiceAuthenticator(SECRET)
    with pytest.raises(error) as info:
        auth.authenticate(bearer(token))
    assert info.value.reason == reason  # type: ignore[attr-defined]
    assert token not in str(info.value)


def test_agent_refuses_caller_tokens_and_missing_credentials() -> None:
    callers = TokenTable(parse_token_pairs(f"acme={ACME}"))
    auth = ServiceAuthenticator(SECRET, caller_tokens=callers)
    assert auth.authenticate(bearer(ServiceTokenIssuer(SECRET).token())).name == "supervisor"
    with pytest.raises(AccessDenied) as info:
        auth.authenticate(bearer(ACME))
    assert info.value.reason == "caller_token" and info.value.tenant == "acme"
    with pytest.raises(CredentialError, match="missing"):
        auth.authenticate(None)
    assert ServiceAuthenticator(None).open
    assert ServiceAuthenticator(None).authenticate(None) is ANONYMOUS


def test_service_secret_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert service_secret(AuthSettings()) is None
    assert service_secret(AuthSettings(service_token=SecretStr("  "))) is None
    assert service_secret(AuthSettings(service_token=SecretStr(SECRET))) == SECRET
    with pytest.raises(ConfigurationError, match="at least 32"):
        service_secret(AuthSettings(service_token=SecretStr("short")))


def test_clock_leeway_accepts_a_token_a_moment_past_expiry() -> None:
    issued = time.time() - 62
    token = ServiceTokenIssuer(SECRET, ttl_s=60, clock=lambda: issued).token()
    assert verify_service_token(token, SECRET).name == "supervisor"
    stale = ServiceTokenIssuer(SECRET, ttl_s=60, clock=lambda: issued - 30).token()
    with pytest.raises(CredentialError, match="expired"):
        verify_service_token(stale, SECRET)


def test_agent_starts_when_the_caller_token_file_is_not_mounted(tmp_path: Path) -> None:
    settings = AuthSettings(
        service_token=SecretStr(SECRET), auth_tokens_file=tmp_path / "absent.yaml"
    )
    with pytest.raises(ConfigurationError):
        CallerAuthenticator.from_settings(settings)  # the supervisor needs it: fails fast
    auth = ServiceAuthenticator.from_settings(settings)  # an agent does not
    with pytest.raises(CredentialError):
        auth.authenticate(bearer(ACME))  # still refused, just without knowing it's a caller's
