"""Conversation memory's pure parts: the extractive summary, the follow-up query, the
window within its budget, the handoff brief and the eval's scoring."""

from __future__ import annotations

from switchboard.agent.answering.prompting import estimate_tokens
from switchboard.agent.memory.followup import standalone_query
from switchboard.agent.memory.window import render_window
from switchboard.core.conversation import ConversationTurn, ConversationWindow, HandoffBrief
from switchboard.devtools.evals.conversations import LabelledTurn, TurnOutcome, turn_scores
from switchboard.store import StoredConversation, StoredTurn
from switchboard.store._common import utcnow
from switchboard.supervisor.memory.handoff import handoff_brief
from switchboard.supervisor.memory.summary import ExtractiveSummarizer, stated_facts


def test_stated_facts_are_statements_about_the_customer_not_questions() -> None:
    text = "We're on the annual Pro plan. Our workspace is acme-eu. How do refunds work? Thanks."
    assert stated_facts(text) == ["We're on the annual Pro plan.", "Our workspace is acme-eu."]
    assert stated_facts("Do we get a refund?") == []


def test_the_extractive_summary_keeps_facts_and_drops_the_oldest_lines_first() -> None:
    s = ExtractiveSummarizer(max_chars=300)
    summary = s.fold_now(
        "",
        "I use the iOS app. How do I sign out?",
        "Offline answer (x): - Go to Profile. [1]",
        "account",
    )
    assert "- I use the iOS app." in summary and "account: - Go to Profile." in summary
    for i in range(20):
        summary = s.fold_now(summary, f"question number {i}?", f"Answer {i}.", "billing")
    assert len(summary) <= 300
    assert "I use the iOS app." in summary and "question number 19?" in summary
    assert "question number 0?" not in summary


def test_a_follow_up_borrows_the_previous_turns_key_terms() -> None:
    window = ConversationWindow(
        turns=[ConversationTurn(user="How long does a refund take?", answer="5 to 10 days.")]
    )
    assert standalone_query("And after two weeks?", window) == "And after two weeks? (refund take)"
    assert standalone_query("And after two weeks?", None) == "And after two weeks?"


def test_the_window_fits_its_budget_newest_turns_first() -> None:
    turns = [
        ConversationTurn(user=f"question {i} " * 20, answer="answer " * 80, agent="billing")
        for i in range(10)
    ]
    window = ConversationWindow(summary="older facts " * 200, turns=turns, turns_total=30)
    for budget in (100, 400, 1000):
        rendered = render_window(window, None, budget)
        assert rendered.tokens <= budget + 5 and estimate_tokens(rendered.text) == rendered.tokens
    shown = render_window(window, None, 1000)
    assert "question 9" in shown.text and "question 0 " not in shown.text
    assert render_window(None, None, 1000).text == ""
    remembered = render_window(None, None, 1000, ["We're on the annual Pro plan."])
    assert "<customer_memory>\n<fact>We're on the annual Pro plan.</fact>" in remembered.text


def test_a_handoff_brief_names_what_was_established_not_the_history() -> None:
    stored = StoredConversation(
        user_id="u",
        turns=2,
        summary="",
        summarized=0,
        live=True,
        updated_at=utcnow(),
        recent=[
            StoredTurn(
                1,
                "Our workspace is acme-eu. Refund invoice 7?",
                "Refunds take 5 days. More.",
                "billing",
                [],
                "NEEDS_CONFIRMATION",
                {"summary": "Refund invoice 7"},
            ),
        ],
    )
    brief = handoff_brief(stored, "account")
    assert isinstance(brief, HandoffBrief) and brief.from_agent == "billing"
    assert "Our workspace is acme-eu." in brief.facts
    assert "billing answered: Refunds take 5 days." in brief.facts
    assert brief.pending_actions == ["Refund invoice 7"]
    assert handoff_brief(stored, "billing") is None


def test_eval_scoring_of_a_follow_up() -> None:
    label = LabelledTurn(
        text="and?",
        agent="billing",
        doc="refund-policy.md",
        facts=["5 to 10 business days", "original"],
    )
    turn = TurnOutcome(
        conversation="c",
        held_out=False,
        index=1,
        agent="billing",
        sources=["x.md", "refund-policy.md"],
        answer="within **5 to 10 business days**",
        label=label,
    )
    scores = turn_scores(turn)
    assert scores == {
        "doc_cited": 1.0,
        "doc_top": 0.0,
        "facts": 0.0,
        "fact_recall": 0.5,
        "agent": 1.0,
    }


def test_only_self_descriptions_become_long_term_facts() -> None:
    from switchboard.supervisor.memory.longterm import extract_facts

    text = (
        "We're on the annual Pro plan. Our workspace is acme-eu. I use the iOS app. "
        "We pay by SEPA direct debit. Are we on the Team plan? The invoice is wrong. "
        "I think refunds are slow."
    )
    assert extract_facts(text) == [
        "We're on the annual Pro plan.",
        "Our workspace is acme-eu.",
        "I use the iOS app.",
    ]  # at most three per turn, questions and opinions never
    assert extract_facts("We pay by SEPA direct debit") == ["We pay by SEPA direct debit."]
    assert extract_facts("How do I use the iOS app?") == []
