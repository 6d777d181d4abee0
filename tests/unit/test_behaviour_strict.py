"""A behaviour case whose capability probe failed is skipped locally and failed in CI."""

from __future__ import annotations

from typing import Any, cast

from switchboard.client import SupervisorClient
from switchboard.devtools.evals.behaviour import PROFILES, Capability, load_cases
from switchboard.devtools.evals.behaviour_run import run_case
from tests.conftest import ROOT

CASES = load_cases(ROOT / "tests" / "data" / "behaviour.yaml")


async def test_a_failed_probe_skips_locally_and_fails_when_strict() -> None:
    case = next(c for c in CASES if Capability.GUARD in c.requires)
    missing = {Capability.GUARD: False}
    never_called = cast(SupervisorClient, cast(Any, None))  # no request is made either way
    skipped = await run_case(never_called, case, PROFILES["offline"], missing)
    failed = await run_case(never_called, case, PROFILES["offline"], missing, strict=True)
    assert skipped.outcome == "skipped"
    assert failed.outcome == "failed"
    assert failed.reasons and failed.reasons[0].startswith("capability probe failed")
