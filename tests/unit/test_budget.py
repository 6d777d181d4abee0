"""Per-request budgets: parsing from metadata, arithmetic, and the supervisor's defaults."""

from __future__ import annotations

import pytest

from switchboard.core.budget import (
    COST_KEY,
    HOPS_KEY,
    MAX_HOPS_VALUE,
    TOKENS_KEY,
    Budget,
)
from switchboard.core.errors import InvalidRequest, ResourceExhausted
from switchboard.supervisor.settings import SupervisorSettings


def test_no_budget_keys_is_none() -> None:
    assert Budget.from_metadata(None) is None
    assert Budget.from_metadata([("authorization", "Bearer x"), ("x-other", "1")]) is None


def test_parses_strings_and_bytes() -> None:
    budget = Budget.from_metadata(
        [(TOKENS_KEY, " 5000 "), (COST_KEY, b"0.25"), (HOPS_KEY, "2"), ("x-other", "1")]
    )
    assert budget == Budget(tokens=5000, cost_usd=0.25, hops=2)
    # hops not sent: as many as allowed (the server's own limit then decides)
    assert Budget.from_metadata([(TOKENS_KEY, "10")]) == Budget(tokens=10, hops=MAX_HOPS_VALUE)


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        (TOKENS_KEY, "lots", "whole number"),
        (TOKENS_KEY, "1.5", "whole number"),
        (TOKENS_KEY, "-1", "between 0"),
        (TOKENS_KEY, "99999999999", "between 0"),
        (COST_KEY, "cheap", "must be a number"),
        (COST_KEY, "nan", "between 0"),
        (COST_KEY, "inf", "between 0"),
        (COST_KEY, "-0.1", "between 0"),
        (HOPS_KEY, "17", "between 0 and 16"),
        (HOPS_KEY, "", "whole number"),
    ],
)
def test_malformed_values_are_invalid_requests(key: str, value: str, says: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        Budget.from_metadata([(key, value)])
    assert key in info.value.message and says in info.value.message


def test_round_trips_through_metadata() -> None:
    for budget in (Budget(), Budget(tokens=0, cost_usd=0.0, hops=0), Budget(tokens=7, hops=1)):
        assert Budget.from_metadata(budget.to_metadata()) == budget
    assert dict(Budget().to_metadata()) == {HOPS_KEY: "3"}  # unlimited fields are not sent


def test_take_hop_counts_down_then_refuses() -> None:
    budget = Budget(hops=2)
    budget = budget.take_hop("agent 'billing'").take_hop("agent 'billing'")
    assert budget.hops == 0
    with pytest.raises(ResourceExhausted, match="hop budget spent: calling agent 'billing'"):
        budget.take_hop("agent 'billing'")


def test_spend_never_goes_below_zero_and_keeps_unlimited() -> None:
    budget = Budget(tokens=100, cost_usd=0.01, hops=2).spend(tokens=150, cost_usd=0.004)
    assert (budget.tokens, budget.hops) == (0, 2)
    assert budget.cost_usd == pytest.approx(0.006)
    assert Budget().spend(tokens=10**6, cost_usd=50).unlimited


def test_split_tightest_and_output_cap() -> None:
    assert Budget(tokens=10, cost_usd=1.0).split(3) == Budget(tokens=3, cost_usd=1 / 3)
    assert Budget(tokens=10).split(1) == Budget(tokens=10)
    caller = Budget(tokens=500, hops=16)
    server = Budget(cost_usd=0.5, hops=3)
    assert caller.tightest(server) == Budget(tokens=500, cost_usd=0.5, hops=3)
    assert Budget(tokens=1000).cap_output(800, estimated_input=600) == 400
    assert Budget(tokens=100).cap_output(800, estimated_input=600) == 0
    assert Budget().cap_output(800, estimated_input=10**6) == 800


def test_require_llm() -> None:
    Budget().require_llm("the answer")
    Budget(tokens=50).require_llm("the answer", min_tokens=50)
    with pytest.raises(ResourceExhausted, match=TOKENS_KEY):
        Budget(tokens=49).require_llm("the answer", min_tokens=50)
    with pytest.raises(ResourceExhausted, match=COST_KEY):
        Budget(cost_usd=0.0).require_llm("the answer")


def test_supervisor_default_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SupervisorSettings().default_budget == Budget(tokens=None, cost_usd=None, hops=3)
    monkeypatch.setenv("SWITCHBOARD_BUDGET_TOKENS", "20000")
    monkeypatch.setenv("SWITCHBOARD_BUDGET_COST_USD", "0.05")
    monkeypatch.setenv("SWITCHBOARD_BUDGET_HOPS", "2")
    assert SupervisorSettings().default_budget == Budget(tokens=20000, cost_usd=0.05, hops=2)
