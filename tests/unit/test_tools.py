"""The tool registry and the Brightlane tools: schemas, validation, allow-lists, timeouts,
ownership, and the round trip of feedback to the model."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from switchboard.agent.config import AgentConfig
from switchboard.agent.tools import (
    TOOL_NAMES,
    DemoBackend,
    Tool,
    ToolContext,
    ToolRegistry,
    brightlane_tools,
)
from switchboard.agent.tools.actions import ActionSigner
from switchboard.agent.tools.runner import ToolRunner
from switchboard.core.errors import ConfigurationError, ModelFeedback
from switchboard.core.llm import ToolCall, ToolResult
from switchboard.core.types import PendingAction
from tests.conftest import AGENTS_DIR

ROOT = AGENTS_DIR.parent
ACME = "cus_demo_acme"
BLUEFIN = "cus_demo_bluefin"


def ctx(customer: str = ACME, tenant: str = "t1", step: int = 1) -> ToolContext:
    return ToolContext(
        request_id="r1", tenant=tenant, customer_id=customer, agent="billing", step=step
    )


@pytest.fixture
def backend() -> DemoBackend:
    return DemoBackend.load()


@pytest.fixture
def tools(backend: DemoBackend) -> ToolRegistry:
    return brightlane_tools(backend)


# -- schemas and validation ---------------------------------------------------------------


def test_every_known_tool_is_defined_once(tools: ToolRegistry) -> None:
    assert sorted(tools.names) == sorted(TOOL_NAMES)
    assert {t for t in TOOL_NAMES if tools.get(t).mutating} == {
        "request_refund",
        "enable_two_factor",
    }


def test_schemas_offered_to_the_model_come_from_the_input_models(tools: ToolRegistry) -> None:
    specs = {s.name: s for s in tools.specs()}
    refund = specs["request_refund"].input_schema
    assert refund["required"] == ["invoice_id", "reason"]
    assert refund["properties"]["invoice_id"]["pattern"] == r"^BL-\d{4}-\d{6}$"
    assert refund["additionalProperties"] is False  # no customer_id slipped in by the model
    assert specs["enable_two_factor"].input_schema["properties"]["method"]["enum"] == [
        "authenticator_app",
        "security_key",
    ]
    assert "customer" not in str(specs["list_invoices"].input_schema)


@pytest.mark.parametrize(
    ("tool", "raw", "complaint"),
    [
        ("get_invoice", {}, "invoice_id: Field required"),
        ("get_invoice", {"invoice_id": "INV-1"}, "invoice_id: String should match pattern"),
        ("request_refund", {"invoice_id": "BL-2025-004217", "reason": ""}, "reason"),
        ("enable_two_factor", {"method": "sms"}, "method: Input should be"),
        ("list_invoices", {"customer_id": BLUEFIN}, "customer_id: Extra inputs"),
    ],
)
def test_invalid_input_becomes_feedback_for_the_model(
    tools: ToolRegistry, tool: str, raw: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ModelFeedback, match=f"invalid input for tool {tool}") as info:
        tools.get(tool).validate(raw)
    assert complaint in info.value.message


async def test_handlers_never_run_on_invalid_input() -> None:
    calls: list[str] = []

    class Args(BaseModel):
        n: int

    async def handler(_: ToolContext, args: Args) -> dict[str, int]:
        calls.append("ran")
        return {"n": args.n}

    runner = ToolRunner(
        ToolRegistry([Tool("count", "counts", Args, handler)]),
        agent="billing",
        signer=ActionSigner("k" * 32),
    )
    result = await runner.call(ToolCall("toolu_9", "count", {"n": "many"}), ctx(), timeout=None)
    assert isinstance(result, ToolResult) and result.is_error
    assert (
        result.tool_use_id == "toolu_9" and "n: Input should be a valid integer" in result.content
    )
    assert calls == []
    ok = await runner.call(ToolCall("toolu_10", "count", {"n": "3"}), ctx(), timeout=None)
    assert isinstance(ok, ToolResult) and not ok.is_error and ok.content == '{"n": 3}'


# -- allow-lists ----------------------------------------------------------------------------


def test_an_agent_only_gets_its_allowed_tools(tools: ToolRegistry) -> None:
    support = tools.select(["get_service_status"])
    assert support.names == ["get_service_status"]
    assert [s.name for s in support.specs()] == ["get_service_status"]
    with pytest.raises(ModelFeedback, match="no tool named 'request_refund'"):
        support.get("request_refund")
    with pytest.raises(ConfigurationError, match="unknown tools"):
        tools.select(["get_service_status", "drop_database"])


def test_shipped_agents_follow_least_privilege(agent_configs: dict[str, AgentConfig]) -> None:
    assert agent_configs["billing"].tools == ["list_invoices", "get_invoice", "request_refund"]
    assert agent_configs["account"].tools == ["get_security_settings", "enable_two_factor"]
    assert agent_configs["support"].tools == ["get_service_status"]


def test_unknown_tool_in_agent_yaml_fails_at_load(tmp_path: Path) -> None:
    raw = yaml.safe_load((AGENTS_DIR / "support" / "agent.yaml").read_text())
    raw.update(
        tools=["get_service_status", "delete_everything"],
        system_prompt=str(AGENTS_DIR / "support" / "prompt.md"),
        knowledge_dir=str(AGENTS_DIR / "support" / "knowledge"),
    )
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigurationError, match="unknown tools \\['delete_everything'\\]"):
        AgentConfig.load(path)


# -- timeouts -------------------------------------------------------------------------------


async def test_a_slow_tool_is_cut_off_and_the_model_is_told() -> None:
    class NoArgs(BaseModel):
        pass

    async def hang(_: ToolContext, __: NoArgs) -> dict[str, str]:
        await asyncio.sleep(30)
        return {}

    tool = Tool("hang", "never answers", NoArgs, hang, timeout_s=0.1)
    started = time.monotonic()
    with pytest.raises(ModelFeedback, match=r"did not answer within 0\.1s"):
        await tool.run(ctx(), NoArgs())
    assert time.monotonic() - started < 10  # cut off, not waited out
    with pytest.raises(ModelFeedback, match=r"within 0\.0s"):  # the caller's time is shorter
        await Tool("hang", "", NoArgs, hang, timeout_s=10).run(ctx(), NoArgs(), timeout=0.0)


# -- ownership ------------------------------------------------------------------------------


async def test_tools_only_see_the_calling_customers_data(tools: ToolRegistry) -> None:
    listed = await tools.get("list_invoices").run(
        ctx(ACME), tools.get("list_invoices").validate({})
    )
    ids = {i["id"] for i in listed["invoices"]}
    assert ids == {"BL-2025-004217", "BL-2025-004218", "BL-2024-002976"}
    get = tools.get("get_invoice")
    theirs = get.validate({"invoice_id": "BL-2025-004301"})  # Bluefin's invoice
    with pytest.raises(ModelFeedback, match="no invoice BL-2025-004301 on this account"):
        await get.run(ctx(ACME), theirs)
    assert (await get.run(ctx(BLUEFIN), theirs))["amount_usd"] == 48.0
    with pytest.raises(ModelFeedback, match="no customer identity"):
        await get.run(ctx(""), theirs)
    with pytest.raises(ModelFeedback, match="no Brightlane account"):
        await get.run(ctx("cus_somebody_else"), theirs)


async def test_refund_proposal_checks_the_account_and_runs_once(
    tools: ToolRegistry, backend: DemoBackend
) -> None:
    refund = tools.get("request_refund")
    args = refund.validate({"invoice_id": "BL-2025-004218", "reason": "charged twice"})
    summary = await refund.summary(ctx(), args)
    assert summary.startswith("Request a refund of $2,400.00 for invoice BL-2025-004218")
    assert backend.effects == []  # proposing changes nothing
    done = await refund.run(ctx(), args)
    assert re.fullmatch(r"RR-[0-9A-F]{6}", done["id"])
    assert refund.result_text(done).startswith(f"Done: refund request {done['id']}")
    with pytest.raises(ModelFeedback, match="already requested"):
        await refund.summary(ctx(), args)
    old = refund.validate({"invoice_id": "BL-2024-002976", "reason": "please"})
    with pytest.raises(ModelFeedback, match="not refundable after 30 days"):
        await refund.summary(ctx(), old)
    assert len(backend.effects) == 1


async def test_two_factor_and_status_tools(tools: ToolRegistry) -> None:
    two_fa = tools.get("enable_two_factor")
    on = two_fa.validate({"method": "security_key"})
    with pytest.raises(ModelFeedback, match="already on"):
        await two_fa.summary(ctx(BLUEFIN), on)
    assert "security key" in await two_fa.summary(ctx(ACME), on)
    status = tools.get("get_service_status")
    everything = await status.run(ctx(""), status.validate({}))  # needs no customer
    assert len(everything["components"]) == 7
    api = await status.run(ctx(""), status.validate({"component": "api"}))
    assert api["components"] == [
        {"component": "REST API and webhooks", "state": "Operational", "note": ""}
    ]


def test_demo_data_agrees_with_the_knowledge_base(backend: DemoBackend) -> None:
    status_doc = (AGENTS_DIR / "support/knowledge/status-page-and-incidents.md").read_text()
    names = [c.component for c in asyncio.run(backend.get_service_status(None))]
    for name in names:
        assert name.split(" (")[0] in status_doc
    invoice_doc = (AGENTS_DIR / "billing/knowledge/invoices-and-receipts.md").read_text()
    assert "BL-YYYY-NNNNNN" in invoice_doc
    assert "Team $12 monthly" in (AGENTS_DIR / "FACTSHEET.md").read_text()


def test_pending_action_type_is_what_the_wire_carries() -> None:
    fields = set(PendingAction.model_fields)
    assert fields == {"id", "tool", "summary", "arguments_json", "approval"}
    assert (
        (ROOT / "agents/runtime/switchboard/agent/tools/demo_data.yaml")
        .read_text()
        .startswith("# DEMO DATA ONLY")
    )
