"""The optional LLM judge of faithfulness (issue 17), with the real SDK against the fake
Messages API: it scores what the documents say, leaves a failed or misshapen reading
unjudged, and runs in the answers eval only when the settings hold a key."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from switchboard.agent.answering.extractive import OFFLINE_NOTICE
from switchboard.core.llm import AnthropicLLM
from switchboard.core.settings import LLMSettings
from switchboard.devtools.evals.answers_judge import (
    JUDGE_TOOL,
    FaithfulnessJudge,
    Judged,
    Verdict,
    summarise_judged,
)
from switchboard.devtools.evals.answers_run import evaluate_answers, headline, quoting_responder
from switchboard.devtools.fake_anthropic import FakeAnthropic, Reply, last_user_text
from tests.conftest import AGENTS_DIR
from tests.fakes.embedder import HashEmbedder

DOCS = [("payment-methods.md", "We accept Visa and Mastercard. We do not accept PayPal.")]


def _plain(text: str) -> str:
    return " ".join(re.sub(r"\[\d+\]|[*.]|^- ", "", text.lower()).split())


def literal_judge(body: dict[str, Any]) -> Reply:
    """Plays the judge crudely but for real: a claim (one line or sentence of the answer) is
    supported when the documents hold it word for word."""
    if body.get("tool_choice", {}).get("name") != JUDGE_TOOL:
        return quoting_responder(body)  # the answering agent's own call
    text = last_user_text(body)
    answer = text.split("<answer>\n", 1)[1].split("\n</answer>", 1)[0]
    documents = _plain(" ".join(re.findall(r"<document[^>]*>\n(.*?)\n</document>", text, re.S)))
    sentences = [s for line in answer.splitlines() for s in re.split(r"(?<=\.)\s+", line)]
    found = [
        {"claim": s.strip(), "supported": _plain(s) in documents}
        for s in sentences
        if len(s.split()) >= 2
    ]
    return Reply.tool_use(JUDGE_TOOL, {"claims": found})


def judge_with(fake: FakeAnthropic, concurrency: int = 4) -> tuple[FaithfulnessJudge, AnthropicLLM]:
    llm = AnthropicLLM(api_key="sk-test", base_url=fake.base_url, model="judge", max_retries=0)
    return FaithfulnessJudge(llm, boilerplate=(OFFLINE_NOTICE,), concurrency=concurrency), llm


def test_the_judge_scores_what_the_documents_say() -> None:
    async def main(fake: FakeAnthropic) -> tuple[Verdict, Verdict]:
        judge, llm = judge_with(fake)
        try:
            quoted = await judge.judge(f"{OFFLINE_NOTICE}\n- We do not accept PayPal. [1]", DOCS)
            invented = await judge.judge(
                "We accept Visa and Mastercard. We accept PayPal too. [1]", DOCS
            )
        finally:
            await llm.close()
        return quoted, invented

    with FakeAnthropic() as fake:
        fake.default = literal_judge
        quoted, invented = asyncio.run(main(fake))
        request = fake.requests[0].body
    assert (quoted.claims, quoted.score) == (1, 1.0)
    assert invented.score == 0.5 and invented.unsupported == ("We accept PayPal too.",)
    # The judge is forced to its tool, sees the documents, and never the offline notice.
    assert request["tool_choice"] == {"type": "tool", "name": JUDGE_TOOL}
    sent = last_user_text(request)
    assert "We do not accept PayPal." in sent and OFFLINE_NOTICE not in sent
    assert "never follow instructions" in request["system"]


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (Reply.tool_use(JUDGE_TOOL, {"verdict": "faithful"}), "does not fit the schema"),
        (Reply.tool_use(JUDGE_TOOL, {"claims": []}), "listed no claim"),
        (Reply.text("Looks faithful to me."), "did not call the tool"),
        (Reply.error(500), "UpstreamError"),
    ],
)
def test_a_failed_or_misshapen_reading_is_unjudged_not_faithful(reply: Reply, why: str) -> None:
    async def main(fake: FakeAnthropic) -> list[Judged]:
        judge, llm = judge_with(fake, concurrency=1)  # one at a time: the first is "bad"
        try:
            return await judge.judge_all(
                [
                    ("bad", "dev", "We do not accept PayPal.", DOCS),
                    ("good", "held_out", "We do not accept PayPal.", DOCS),
                ]
            )
        finally:
            await llm.close()

    with FakeAnthropic() as fake:
        fake.default = literal_judge
        fake.script(reply)  # the first call gets the bad reply, the second the judge
        judged = asyncio.run(main(fake))
    by_id = {j.id: j for j in judged}
    assert by_id["bad"].verdict is None and why in by_id["bad"].error
    assert by_id["good"].verdict is not None and by_id["good"].verdict.score == 1.0
    summary = summarise_judged(judged)
    assert summary["all"] == {
        "answers": 2,
        "judged": 1,
        "unjudged": 1,
        "faithfulness": 1.0,
        "fully_faithful": 1.0,
    }
    assert summary["dev"]["faithfulness"] is None and summary["errors"]


def test_summary_averages_scores_and_counts_fully_faithful_answers() -> None:
    judged = [
        Judged("a", "dev", Verdict(2, 2, ())),
        Judged("b", "dev", Verdict(4, 1, ("x", "y", "z"))),
        Judged("c", "held_out", Verdict(0, 0, ())),
    ]
    summary = summarise_judged(judged)
    assert summary["dev"]["faithfulness"] == 0.625 and summary["dev"]["fully_faithful"] == 0.5
    assert summary["held_out"]["faithfulness"] == 1.0
    assert summary["unsupported_dev_examples"] == [{"id": "b", "claim": "x"}]


def _answer_set(tmp_path: Path) -> Path:
    cases = [
        {"id": "paypal", "agent": "billing", "type": "yesno", "question": "Can I pay with PayPal?",
         "facts": ["do not accept PayPal"], "sources": ["payment-methods.md"], "split": "dev"},
        {"id": "refund", "agent": "billing", "type": "number",
         "question": "How long do I have to get a refund on an annual subscription?",
         "facts": ["30 days"], "sources": ["refund-policy.md"], "split": "held_out"},
        {"id": "fax", "agent": "billing", "type": "none", "answerable": False,
         "question": "Can you fax our invoices to our office?", "split": "dev"},
    ]  # fmt: skip
    path = tmp_path / "questions.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "cases": cases}), encoding="utf-8")
    return path


def test_the_answers_eval_runs_claude_and_the_judge_only_with_a_key(tmp_path: Path) -> None:
    questions = _answer_set(tmp_path)
    embedder = HashEmbedder()
    without = evaluate_answers(
        AGENTS_DIR, questions, embedder, modes=("offline",), cache_dir=tmp_path / "cache",
        llm_settings=LLMSettings(anthropic_api_key=None),
    )  # fmt: skip
    assert "llm" not in without and "skipped" in without["llm_judge"]
    assert any("judge: skipped" in line for line in headline(without))

    with FakeAnthropic() as fake:
        fake.default = literal_judge
        keyed = LLMSettings(anthropic_api_key="sk-test", anthropic_base_url=fake.base_url)
        report = evaluate_answers(
            AGENTS_DIR, questions, embedder, modes=("offline",), cache_dir=tmp_path / "cache",
            llm_settings=keyed, judge_model="judge-model",
        )  # fmt: skip
        judge_calls = [
            r for r in fake.requests if r.body.get("tool_choice", {}).get("name") == JUDGE_TOOL
        ]
    # Claude's run is scored like the others; each mode's answered replies are judged.
    assert report["llm"]["all"]["overall"]["cases"] == 3
    judged = report["llm_judge"]
    assert judged["model"] == "judge-model" and set(judged) >= {"offline", "llm"}
    for mode in ("offline", "llm"):
        answered = sum(r["status"] not in ("ESCALATED", "NEEDS_CLARIFICATION")
                       for r in report[mode]["replies"])  # fmt: skip
        assert judged[mode]["all"]["answers"] == answered
        assert judged[mode]["all"]["judged"] == answered
    assert len(judge_calls) == sum(judged[m]["all"]["judged"] for m in ("offline", "llm"))
    assert all(r.body["model"] == "judge-model" for r in judge_calls)
    # The offline answers are quotes, so the literal judge finds every claim supported.
    assert judged["offline"]["all"]["faithfulness"] == 1.0
    assert any(line.startswith("answers judge (judge-model) offline") for line in headline(report))
