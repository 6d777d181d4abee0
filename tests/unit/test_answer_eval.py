"""The labelled answer set is well formed, and the judge-free scoring measures what it says."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from switchboard.devtools.evals.answers import (
    AnswerCase,
    CaseScore,
    Split,
    expected_calibration_error,
    facts_found,
    load_answer_set,
    normalise,
    summarise,
)
from switchboard.devtools.evals.answers_grounding import DocumentIndex, claims
from tests.conftest import AGENTS_DIR, DOMAINS, ROOT
from tests.fakes.embedder import HashEmbedder

ANSWER_SET = ROOT / "evals" / "answers" / "questions.yaml"
CASES = load_answer_set(ANSWER_SET)
SEED = 1717  # the header of questions.yaml names it


def test_the_set_is_big_varied_and_has_questions_nobody_answers() -> None:
    assert len(CASES) >= 150
    by_agent = Counter(c.agent for c in CASES)
    assert set(by_agent) == set(DOMAINS) and min(by_agent.values()) >= 40
    unanswerable = sum(not c.answerable for c in CASES) / len(CASES)
    assert 0.12 <= unanswerable <= 0.2
    kinds = Counter(c.type for c in CASES if c.answerable)
    assert all(kinds[k] >= 15 for k in ("howto", "yesno", "number", "fact")), kinds


def test_the_held_out_split_is_the_seeded_draw() -> None:
    """Drawn once from the ids in file order, before any result was seen: not hand-picked."""
    ids = [c.id for c in CASES]
    held = set(random.Random(SEED).sample(ids, round(0.3 * len(ids))))
    assert {c.id for c in CASES if c.split == Split.HELD_OUT} == held


def test_every_fact_is_in_a_source_document() -> None:
    for case in CASES:
        if not case.answerable:
            continue
        text = " ".join(
            normalise((AGENTS_DIR / case.agent / "knowledge" / s).read_text()) for s in case.sources
        )
        for alts in case.alternatives():
            assert any(normalise(a) in text for a in alts), f"{case.id}: {alts}"


def case(**kw: object) -> AnswerCase:
    values: dict[str, object] = {
        "id": "c",
        "agent": "billing",
        "question": "q",
        "facts": ["Settings > Billing > Plan", ["30 days", "thirty days"]],
        "sources": ["x.md"],
        "split": "dev",
    }
    values.update(kw)
    return AnswerCase.model_validate(values)


def test_facts_ignore_case_emphasis_and_punctuation_and_take_alternatives() -> None:
    c = case()
    assert facts_found(c, "Go to **settings › billing › plan** within Thirty days.") == [True, True]
    assert facts_found(c, "Go to Settings. Billing is monthly; 30 days.") == [False, True]
    assert facts_found(c, "within 130 days") == [False, False]  # a fact starts at a word


def test_inconsistent_cases_are_rejected() -> None:
    with pytest.raises(ValueError, match="needs facts"):
        case(facts=[])
    with pytest.raises(ValueError, match="no facts or sources"):
        case(answerable=False)


def score(status: str, conf: float, facts: list[bool], answerable: bool = True) -> CaseScore:
    s = CaseScore("c", "billing", "dev", answerable, status, conf, facts=facts)
    s.precise, s.grounded = [True], 1.0
    return s


def test_summary_counts_recall_abstention_and_calibration() -> None:
    scores = [
        score("DEGRADED", 0.9, [True, True]),
        score("DEGRADED", 0.9, [True, False]),
        score("ESCALATED", 0.1, []),
        score("ESCALATED", 0.1, [], answerable=False),
        score("DEGRADED", 0.8, [], answerable=False),
    ]
    s = summarise(scores)
    assert s["fact_recall"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-4)
    assert s["answer_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["abstention_accuracy"] == 0.5 and s["answered_rate"] == pytest.approx(2 / 3, abs=1e-4)


def test_expected_calibration_error() -> None:
    assert expected_calibration_error([0.95] * 10, [True] * 10) == pytest.approx(0.05)
    assert expected_calibration_error([0.95] * 10, [False] * 10) == pytest.approx(0.95)
    half = expected_calibration_error([0.55] * 10, [True] * 5 + [False] * 5)
    assert half == pytest.approx(0.05)


def test_groundedness_supports_quotes_and_not_inventions() -> None:
    doc = "# Refunds\n\nAnnual plans are refundable within 30 days. Monthly renewals are not.\n"
    index = DocumentIndex(HashEmbedder(), {"billing/r.md": doc})
    quoted = "Offline answer, quoted:\n- Annual plans are refundable within 30 days. [1]"
    assert index.groundedness(quoted, ["billing/r.md"], ["Offline answer"]) == 1.0
    invented = (
        "Annual plans are refundable within 30 days. We also refund lifetime deals by cheque."
    )
    assert index.groundedness(invented, ["billing/r.md"]) == 0.5
    assert index.groundedness(invented, []) == 0.0  # cites nothing: grounded in nothing
    assert claims("Refunds [1]\n1. Click Request refund.") == ["Click Request refund."]
