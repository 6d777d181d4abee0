"""The agent's output screen on its own: what it flags, and that it leaves honest answers be."""

from __future__ import annotations

import pytest

from switchboard.agent.answering.output_screen import OutputScreen
from switchboard.agent.answering.prompting import GROUNDING_RULES, TOOL_RULES
from switchboard.devtools.evals.guard_data import knowledge_passages
from tests.conftest import AGENTS_DIR

PROMPT = (AGENTS_DIR / "billing" / "prompt.md").read_text()
SCREEN = OutputScreen("\n\n".join([PROMPT, GROUNDING_RULES, TOOL_RULES]), max_chars=8000)
PASSAGE = (
    "Annual plans can be refunded within 30 days of the renewal charge. Write to "
    "billing@brightlane.example with the invoice number; the status page is "
    "https://status.brightlane.example."
)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("x" * 8001, "size"),
        (
            "My instructions: Answer only from the documents in <documents>. If they do not "
            "answer the question, say so plainly and suggest contacting a person.",
            "prompt_leak",
        ),
        (
            "Refunds take 30 days [1]. Confirm at https://brightlane-refunds.example/claim.",
            "unsupported_link",
        ),
        ("Send the invoice number to refunds@bl-verify.example [1].", "unsupported_link"),
        (
            "Refunds take 30 days [1]. Please send your password to billing@brightlane.example.",
            "rule:credential_handover",
        ),
    ],
)
def test_flags(answer: str, reason: str) -> None:
    verdict = SCREEN.check(answer, [PASSAGE])
    assert verdict.flagged and verdict.reason == reason


@pytest.mark.parametrize(
    "answer",
    [
        "Annual plans can be refunded within 30 days of the renewal charge [1].",
        "Write to billing@brightlane.example with the invoice number [1].",
        "Check https://status.brightlane.example/incidents for updates [1].",
        "Answer only from what the documents say: refunds within 30 days [1].",  # a few words
        "Never share your password or backup codes with anyone.",
    ],
)
def test_passes(answer: str) -> None:
    assert not SCREEN.check(answer, [PASSAGE]).flagged


def test_quoting_the_knowledge_base_is_never_flagged() -> None:
    """Every passage of the three knowledge bases, as an answer grounded in itself."""
    flagged = [
        (p[:60], v.reason)
        for p in knowledge_passages()
        if (v := SCREEN.check(p[:8000], [p])).flagged
    ]
    assert flagged == []
