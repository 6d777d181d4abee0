"""The reviewer console in a real headless browser (Debian's chromium, driven by Playwright):
a reviewer signs in, opens an escalation from the inbox, claims and answers it, and the
caller's GetResult returns the person's answer. Screenshots go to build/console/ (the README
shows one). Outside CI a missing browser or driver skips this test with the reason; in CI it
fails (.ci/run installs chromium)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from switchboard.agent.config import AgentConfig
from switchboard.console.server import bound_port, server_for
from switchboard.console.settings import ConsoleSettings
from switchboard.core.audit import utcnow
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.types import AgentCard, Outcome
from switchboard.store import ItemKind, NewItem
from switchboard.supervisor.results import AskResult
from switchboard.supervisor.review.outcomes import draft_record
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.v1 import common_pb2
from tests.harness.review import OFF_TOPIC, Stack, ask, get_result, review_stack
from tests.harness.stack import Credentials

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "console"
CHROMIUM = Path(os.environ.get("SWITCHBOARD_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ANSWER = "Not on a Commodore 64, sadly: Brightlane needs a current browser. - Rita"
WITHHELD = "Our documents don't cover paying by voice assistant; please email billing@."


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: required; .ci/run installs it)", pytrace=False)
    pytest.skip(reason)


@contextlib.asynccontextmanager
async def console(address: str) -> AsyncIterator[str]:
    """The console app served by uvicorn on a free port, in this event loop."""
    server = server_for(ConsoleSettings(supervisor=address, port=0))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        assert server.started, "the console did not start"
        yield f"http://127.0.0.1:{bound_port(server)}"
    finally:
        server.should_exit = True
        await task


async def check_prompts_page(page: Any, base: str) -> None:
    """The versions each label serves (both agents seeded v1 at start), and one in full."""
    await page.goto(base + "/prompts")
    versions = await page.inner_text("#prompt-versions")
    assert "support@v1" in versions and "production" in versions
    await page.click("a[href='/prompts/support/1']")
    assert (await page.inner_text("#prompt-text")).strip()
    await page.screenshot(path=str(SHOTS / "prompt.png"), full_page=True)


async def check_withheld_draft(page: Any, base: str, stack: Stack) -> None:
    """An ``uncited`` escalation (an agent's strict grounding) shows what the model wrote
    beside what the caller was told."""
    told = AskResult(
        request_id="ui-strict", outcome=Outcome.ESCALATED, agent="billing", uncited=True,
        answer="I couldn't find a reliable answer; a person will follow up.",
        withheld_draft=WITHHELD,
    )  # fmt: skip
    new = NewItem(
        tenant=stack.creds.tenant, request_id="ui-strict", agent="billing",
        kind=ItemKind.ESCALATION, reason="uncited", question="Can I pay by asking Alexa?",
        draft=draft_record(told), expires_at=utcnow() + timedelta(days=1),
    )  # fmt: skip
    item = await stack.db.review.add(new)
    assert item is not None
    await page.goto(f"{base}/items/{item.id}")
    assert await page.inner_text("#withheld") == WITHHELD
    assert "check what it wrote against the documents" in await page.content()
    await page.screenshot(path=str(SHOTS / "item-uncited.png"), full_page=True)


async def test_a_reviewer_resolves_an_escalation_in_the_browser(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    agent_configs: dict[str, AgentConfig],
    agent_cards: list[AgentCard],
    card_index: EmbeddingIndex,
) -> None:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (make setup installs it)")
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 - one stat before the test
        skip_or_fail(f"no chromium at {CHROMIUM} (apt-get install chromium chromium-driver)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    creds = Credentials()
    async with review_stack(
        tmp_path,
        embedder=embedder,
        configs=agent_configs,
        cards=agent_cards,
        index=card_index,
        creds=creds,
    ) as stack:
        escalated = await ask(
            stack, "Can I run Brightlane on a Commodore 64?", "ui-1", agent="support"
        )
        item_id = escalated.review.item_id
        await ask(stack, OFF_TOPIC, "ui-2", agent="support")
        await ask(stack, "Please refund invoice BL-2025-004218 because duplicate-charge", "ui-3")
        async with console(stack.address) as base, async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            page = await browser.new_page(viewport={"width": 1280, "height": 820})
            await page.goto(base + "/")
            assert page.url.endswith("/login")
            # a caller token is turned away, with the reason
            await page.fill("#token", creds.token)
            await page.click("#sign-in")
            assert "PERMISSION_DENIED" in await page.inner_text("#error")
            await page.fill("#token", creds.reviewer_token)
            await page.click("#sign-in")
            await page.wait_for_selector("#items")
            assert await page.inner_text("#count-escalation") == "2"
            assert await page.inner_text("#count-approval") == "1"
            await page.screenshot(path=str(SHOTS / "inbox.png"), full_page=True)

            await page.click(f"a[href='/items/{item_id}']")
            await page.wait_for_selector("#question")
            await page.click("#claim")
            await page.wait_for_selector("#note")
            await page.fill("#answer", ANSWER)
            await page.screenshot(path=str(SHOTS / "item.png"), full_page=True)
            await page.click("#send-answer")
            await page.wait_for_selector("#note")
            assert "Answered" in await page.inner_text("#note")
            assert await page.inner_text("#state") == "resolved"
            await page.goto(base + "/stats")
            await page.goto(base + "/gaps")
            assert "Commodore 64" in await page.content()
            await check_withheld_draft(page, base, stack)
            await check_prompts_page(page, base)
            await browser.close()
        result = await get_result(stack, "ui-1")
    assert result.status == common_pb2.ANSWERED
    assert result.answer == ANSWER
    assert (result.answered_by.kind, result.answered_by.name) == ("human", "acme/rita")
