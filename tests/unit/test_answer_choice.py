"""The pieces the offline answer is chosen with: question type, list layout, section siblings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from switchboard.agent.answering.extractive import Extract, choose
from switchboard.agent.answering.passage_layout import layout
from switchboard.agent.answering.question import (
    QuestionType,
    classify,
    direction,
    follows,
    reverses,
    stem,
    terms,
)
from switchboard.agent.answering.quotable import usable
from switchboard.agent.knowledge.sections import same_section
from switchboard.agent.knowledge.sentences import SentenceSet, split_sentences
from switchboard.agent.knowledge.store import ChromaStore, Hit, InMemoryStore, StoredChunk
from tests.fakes.embedder import HashEmbedder


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("I forgot my password", QuestionType.HOWTO),
        ("make 2FA mandatory for everyone", QuestionType.HOWTO),
        ("How do I cancel my subscription?", QuestionType.HOWTO),
        ("I was charged twice", QuestionType.HOWTO),
        ("Can I pay with PayPal?", QuestionType.YESNO),
        ("Do you have a nonprofit discount?", QuestionType.YESNO),
        ("How long is the password reset link valid?", QuestionType.NUMBER),
        ("whats the max page size", QuestionType.NUMBER),
        ("What does error SSO-101 mean?", QuestionType.FACT),
    ],
)
def test_question_types(question: str, kind: QuestionType) -> None:
    assert classify(question) is kind


def test_words_meet_across_forms_and_everyday_synonyms() -> None:
    assert stem("forgotten") == stem("forgot")
    assert stem("charged") == stem("charge")
    assert terms("log in") & terms("sign in")
    assert terms("make it mandatory") & terms("Require two-factor authentication")


CHUNK = """Duplicates > Reporting a duplicate charge

If the same invoice has been charged twice:

1. Note the invoice number and the dates of both charges.
2. Email billing@brightlane.example from the billing contact address.
3. Do not include your full card number; the last 4 digits are enough.

Confirmed duplicate charges are always refunded in full.

- Visa and Mastercard are accepted everywhere.
- Prepaid cards are accepted if they support recurring payments.
"""


def test_layout_finds_the_ordered_steps_their_lead_in_and_a_bullet_list() -> None:
    texts = tuple(split_sentences(CHUNK, "Duplicates > Reporting a duplicate charge"))
    shape = layout(CHUNK, texts)
    steps, bullets = shape.blocks
    assert steps.ordered and [texts[i[0]][:4] for i in steps.items] == ["Note", "Emai", "Do n"]
    assert texts[steps.lead_in or 0] == "If the same invoice has been charged twice:"
    assert not bullets.ordered and len(bullets.items) == 2 and bullets.lead_in is None
    assert texts.index("Confirmed duplicate charges are always refunded in full.") not in (
        shape.block_of
    )


def _extract(chunk: str, heading: str, score: float, question: str) -> Extract | None:
    """``choose`` over one hit holding ``chunk`` under ``heading``."""
    embedder = HashEmbedder()
    texts = tuple(split_sentences(chunk, heading))
    hit = Hit("d.md::1", chunk, score, {"source": "d.md", "heading": heading})
    return choose(
        question,
        embedder.embed([question])[0],
        [hit],
        [SentenceSet(texts, embedder.embed(list(texts)))],
    )


def test_a_matching_lead_in_brings_every_step_in_order() -> None:
    extract = _extract(
        CHUNK,
        "Duplicates > Reporting a duplicate charge",
        0.6,
        "I was charged twice for the same invoice",
    )
    assert extract is not None and extract.kind is QuestionType.HOWTO
    lines = extract.text.splitlines()
    assert lines[1] == "Reporting a duplicate charge [1]"
    assert lines[3].startswith("1. Note") and lines[5].startswith("3. Do not")


PAYMENTS = """Payments > Ways to pay

We accept Visa and Mastercard credit cards.

We do not accept PayPal or bank transfers for monthly plans.

Brightlane will never ask you for your card's security code.
"""


def _choose(question: str) -> tuple[bool, str]:
    extract = _extract(PAYMENTS, "Payments > Ways to pay", 0.5, question)
    assert extract is not None and extract.kind is QuestionType.YESNO
    return extract.shaped, extract.text


def test_a_yes_or_no_answers_only_when_it_is_about_the_thing_asked() -> None:
    """ "We do not accept PayPal" answers "Can I pay with PayPal?"; a "never" or a "do not"
    about something else does not answer "Can I buy a gift card?", so that quote reads as
    unlikely to answer (its confidence drops and the question escalates)."""
    shaped, text = _choose("Can I pay with PayPal?")
    assert shaped and "do not accept PayPal" in text
    shaped, _ = _choose("Can I buy a gift card for a friend?")
    assert not shaped


def test_the_rest_of_a_split_section_is_fetched_by_id() -> None:
    embedder = HashEmbedder()
    store = InMemoryStore()
    heading = "Passwords > Resetting a forgotten password"
    chunks = [
        StoredChunk(
            "p.md::2", "Passwords > Changing\n\n1. Enter it.", {"heading": "Passwords > Changing"}
        ),
        StoredChunk("p.md::3", f"{heading}\n\n1. Click Forgot password?", {"heading": heading}),
        StoredChunk("p.md::4", f"{heading}\n\nResetting signs you out.", {"heading": heading}),
        StoredChunk("p.md::5", "Passwords > Other\n\nMore.", {"heading": "Passwords > Other"}),
    ]
    store.upsert(chunks, embedder.embed([c.text for c in chunks]))
    query = embedder.embed(["forgot password"])[0]
    (hit,) = [h for h in store.query(query, 4) if h.id == "p.md::4"]
    found = same_section(store, [hit], query)
    assert [h.id for h in found] == ["p.md::3"]  # ::5 is another section
    assert np.isclose(found[0].score, float(embedder.embed([chunks[1].text])[0] @ query))


def test_the_chroma_store_reads_chunks_by_id_scored_against_the_query(tmp_path: Path) -> None:
    store = ChromaStore.open("sections-test", path=str(tmp_path))
    vectors = np.eye(4, dtype=np.float32)
    chunks = [StoredChunk(f"a.md::{i}", f"text {i}", {"heading": "A > B"}) for i in range(3)]
    store.upsert(chunks, vectors[:3])
    (hit,) = store.get(["a.md::1", "a.md::9"], vectors[1])
    assert hit.id == "a.md::1" and hit.score == pytest.approx(1.0) and hit.vector is not None
    assert store.get([], vectors[1]) == []


def _choose_among(question: str, *hits: tuple[str, str, float]) -> Extract:
    """``choose`` over several hits, each (chunk, heading, retrieval score)."""
    embedder = HashEmbedder()
    found, sets = [], []
    for n, (chunk, heading, score) in enumerate(hits):
        texts = tuple(split_sentences(chunk, heading))
        found.append(Hit(f"d{n}.md::1", chunk, score, {"source": f"d{n}.md", "heading": heading}))
        sets.append(SentenceSet(texts, embedder.embed(list(texts))))
    extract = choose(question, embedder.embed([question])[0], found, sets)
    assert extract is not None
    return extract


def test_a_list_item_that_finishes_its_lead_in_is_quoted_under_it() -> None:
    """ "be at least 12 characters" says nothing alone, but it is the answer to a how-long
    question: it is quoted with its lead-in and its list."""
    chunk = (
        "Every Brightlane password must:\n\n"
        "- have a password length of at least 12 characters;\n"
        "- not contain your name.\n\n"
        "We recommend a password manager.\n"
    )
    extract = _choose_among(
        "What's the minimum password length?", (chunk, "Passwords > Requirements", 0.6)
    )
    lines = extract.text.splitlines()
    assert lines[2:4] == [
        "Every Brightlane password must:",
        "- have a password length of at least 12 characters;",
    ]


def test_a_sentence_about_the_article_itself_is_not_an_answer() -> None:
    chunk = (
        "This article explains how to contact technical support.\n\n"
        "Email support@brightlane.example from any plan, including Free.\n"
    )
    extract = _choose_among(
        "How do I contact technical support?", (chunk, "Support > Contacting support", 0.6)
    )
    assert "support@brightlane.example" in extract.text
    assert "This article" not in extract.text


def test_a_bold_title_brings_the_rest_of_its_line() -> None:
    """ "**Symptom.** Cause. Fix." in a list item or a paragraph: the symptom matches the
    question; the fix after it is the answer."""
    chunk = (
        "- **Windows: blank white window after update.** Caused by a GPU driver conflict. "
        "Fixed in 5.8.1.\n"
        "- **macOS: notifications not shown.** Focus modes hide them.\n"
        "- **Linux: no tray icon.** GNOME hides tray icons.\n"
        "- **iOS: uploads fail on cellular.** Connect to Wi-Fi.\n"
        "- **Android: late notifications.** Battery optimisation delays them.\n\n"
        '**"Authentication failed" or 401 errors in the history of your Zaps.** The token was '
        "revoked. Reconnect the account in Zapier.\n"
    )
    windows = _choose_among(
        "The Windows app shows a blank white window after the update",
        (chunk, "Apps > Known issues", 0.6),
    )
    assert "Fixed in 5.8.1." in windows.text and "macOS" not in windows.text
    zapier = _choose_among(
        'Zapier says "authentication failed"', (chunk, "Apps > Known issues", 0.6)
    )
    assert "Reconnect the account in Zapier." in zapier.text


def test_a_passage_about_the_opposite_action_does_not_answer() -> None:
    """An embedding model puts "export" next to "import"; the import steps, although their
    passage was retrieved first, are not how to export."""
    importing = (
        "1. Open the project and choose More > Import > CSV to bring a CSV into the project.\n"
        "2. Upload the CSV file.\n"
    )
    exporting = "1. Open the project.\n2. Choose More > Export.\n"
    extract = _choose_among(
        "How do I export a project to CSV?",
        (importing, "Importing > Importing from CSV", 0.7),
        (exporting, "Exporting > Exporting a project", 0.55),
    )
    assert extract.used == [2] and "Choose More > Export." in extract.text


def test_a_sentence_that_refers_back_brings_the_one_it_refers_to() -> None:
    chunk = (
        "Owners can turn on Require sign-off for new seats under Settings > Billing.\n"
        "When it is on, Admins cannot add paid seats without the Owner's approval.\n"
    )
    extract = _choose_among(
        "Can I stop admins from adding paid seats without my approval?",
        (chunk, "Seats > Preventing unexpected seat charges", 0.6),
    )
    assert "Require sign-off for new seats" in extract.text


def test_the_answer_opens_with_the_passage_of_its_best_sentence() -> None:
    """Several passages quoted: the one holding the best sentence comes first (its marker
    [1] after renumbering), not the one retrieved first."""
    currencies = "You can pay with a card issued in a different currency.\n"
    methods = "You cannot pay with PayPal, cheques, cash or cryptocurrency.\n"
    extract = _choose_among(
        "Can I pay with PayPal?",
        (currencies, "Currencies > Paying with a card in another currency", 0.6),
        (methods, "Payment methods > Accepted payment methods", 0.55),
    )
    assert extract.text.splitlines()[1:] == [
        "- You cannot pay with PayPal, cheques, cash or cryptocurrency. [2]",
        "- You can pay with a card issued in a different currency. [1]",
    ]
    assert extract.used == [2, 1]


@pytest.mark.parametrize(
    "aside",
    [
        "This policy explains how long refunds take to reach your card.",
        "See *How long refunds take to reach your card*.",
        "See *Refund Policy* for how long refunds take to reach your card.",
        'See "How long refunds take to reach your card".',
    ],
)
def test_a_sentence_about_a_page_or_pointing_to_one_is_not_an_answer(aside: str) -> None:
    chunk = f"{aside}\n\nRefunds reach your card within 5 to 10 business days.\n"
    extract = _choose_among(
        "How long do refunds take to reach my card?", (chunk, "Refunds > Refund policy", 0.6)
    )
    assert "5 to 10 business days" in extract.text
    assert aside not in extract.text


def test_a_change_asked_one_way_is_not_answered_by_the_way_back() -> None:
    """ "from monthly to yearly": the section and the sentence about switching to monthly
    answer the opposite change (yearly folds into annual)."""
    back = (
        "An annual subscription cannot be converted to monthly in the middle of its term.\n\n"
        "You can choose Switch to monthly at renewal on the billing page.\n"
    )
    forward = "You can switch to annual at any time under Settings > Billing > Plan.\n"
    extract = _choose_among(
        "Can I switch from monthly to yearly billing?",
        (back, "Billing interval > Switching from annual to monthly", 0.75),
        (forward, "Billing interval > Switching from monthly to annual", 0.7),
    )
    assert extract.used == [2]
    assert "switch to annual at any time" in extract.text and "to monthly" not in extract.text


def test_a_page_of_the_product_is_not_a_page_about_the_article() -> None:
    assert usable("This page shows your plan, billing interval and number of seats.")
    assert not usable("This page explains how to change your plan.")


@pytest.mark.parametrize(
    ("question", "sentence", "backwards", "forwards"),
    [
        ("switch from monthly to yearly", "Choose Switch to monthly at renewal.", True, False),
        ("switch from monthly to yearly", "You can switch to annual at any time.", False, True),
        ("switch from monthly to yearly", "Switching from annual to monthly", True, False),
        ("move my files from my phone to my laptop", "Switch back to your phone.", True, False),
        # not a change: pronouns, ranges, a verb that moves nothing, an unrelated range
        ("emails go from you to my inbox", "We send a code to you.", False, False),
        ("we are open from 9am to 5pm", "Opening hours change to 9am.", False, False),
        ("import from a CSV file to my workspace", "Export your sheet to CSV first.", False, False),
        ("switch from monthly to annual", "Goodbye to monthly invoices: one a year.", False, False),
        ("switch from monthly to annual", "Going back to monthly waits for renewal.", True, False),
        (
            "switch from monthly to annual",
            "Switch to monthly; refunds go from 14 to 30 days.",
            True,
            False,
        ),
    ],
)
def test_the_way_a_change_goes(
    question: str, sentence: str, backwards: bool, forwards: bool
) -> None:
    way = direction(question)
    assert reverses(way, sentence) is backwards
    assert follows(way, sentence) is forwards


def test_a_sentence_that_goes_the_other_way_is_penalised_under_a_neutral_title() -> None:
    chunk = (
        "You can choose Switch to monthly at renewal on the billing page.\n\n"
        "You can switch to annual at any time on the billing page.\n"
    )
    extract = _choose_among(
        "Can I switch from monthly to yearly billing?", (chunk, "Billing > Billing interval", 0.7)
    )
    assert "switch to annual at any time" in extract.text and "to monthly" not in extract.text


def test_a_section_about_the_way_back_does_not_answer() -> None:
    """The sentence says nothing of the way; its section title does."""
    extract = _choose_among(
        "When does switching from monthly to yearly billing take effect?",
        (
            "The switch takes effect at your next renewal date.\n",
            "Billing > From annual to monthly",
            0.75,
        ),
        (
            "The switch takes effect on the day you make it.\n",
            "Billing > From monthly to annual",
            0.7,
        ),
    )
    assert extract.used == [2]
