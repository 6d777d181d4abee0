"""What a question asks for, and its words, for the offline answer to pick what answers it.

Cheap rules, no model: a how-to (or a problem to fix: "I forgot my password") wants the
whole ordered steps of the matching section; a yes/no question wants the sentence that says
yes or no, negations included ("We do not accept PayPal"); a how-many/how-long question wants
the sentence with the number. Words are lower-cased and lightly stemmed ("forgotten" and
"forgot", "charged" and "charge" meet), and a few everyday synonyms are folded together so a
customer's "log in" meets the documents' "sign in".
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from enum import StrEnum


class QuestionType(StrEnum):
    HOWTO = "howto"
    YESNO = "yesno"
    NUMBER = "number"
    FACT = "fact"


_GREETING = re.compile(r"^(?:(?:hi|hello|hey|thanks|please|ok|so)\b[\s,!.]*)+", re.I)
_HOW_MUCH = re.compile(
    r"\bhow (?:many|much|long|often|quickly|fast|soon|old|big|large)\b"
    r"|\bwhen (?:do|does|is|are|will)\b",
    re.I,
)
_AMOUNT = re.compile(
    r"\b(?:limit|maximum|minimum|max|min|price|cost|rate|fee|percent|discount)\b", re.I
)
_HOWTO = re.compile(
    r"\bhow (?:do|can|should|would|to|does one)\b|\bwhere (?:do|can) (?:i|we)\b"
    r"|\bsteps?\b|\bwalk me\b|\bwhat (?:do|should) (?:i|we) do\b|\bhow (?:i|we) (?:can|do)\b",
    re.I,
)
_IMPERATIVE = re.compile(
    r"^(?:make|set|turn|enable|disable|cancel|change|add|remove|reset|delete|export|import|"
    r"connect|invite|transfer|give|stop|get|create|update|switch|upgrade|downgrade|unlock|"
    r"sync|link|require|enforce|rotate|revoke|download|move|fix|help)\b",
    re.I,
)
_PROBLEM = re.compile(
    r"^(?:i|we|my|our|the)\b.*\b(?:forgot|lost|can'?t|cannot|was charged|were charged|"
    r"got charged|locked|stopped|not working|never (?:came|arrived)|doesn'?t|won'?t|broken|"
    r"failed|wrong|missing|need)\b",
    re.I,
)
_YESNO = re.compile(
    r"^(?:can|could|do|does|did|is|are|will|would|may|should|am|have|has|must)\b", re.I
)

_WORD = re.compile(r"[a-z0-9][a-z0-9'_-]*")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "could",
        "do",
        "does",
        "did",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "u",
        "any",
        "get",
        "got",
        "there's",
        "it's",
        "i'm",
        "we're",
        "what's",
        "whats",
        "let",
        "please",
        "thanks",
        "hi",
        "hello",
        "hey",
        "need",
        "want",
        "just",
        "make",
        "know",
        "tell",
        "i've",
        "been",
        "now",
        "too",
        "out",
        "kind",
        "kinds",
        "use",
        "after",
    ]
)
_SUFFIXES = ("ing", "ten", "ed", "es", "s", "ly")
_SYNONYMS = {
    "unlock": "lock",  # the topic is the lock either way ("locked out" / "Unlocking")
    "unlocking": "lock",
    "unlocked": "lock",
    "login": "sign",
    "log": "sign",
    "logged": "sign",
    "logins": "sign",
    "signin": "sign",
    "mandatory": "require",
    "compulsory": "require",
    "enforce": "require",
    "enforced": "require",
    "required": "require",
    "requiring": "require",
    "money": "refund",
    "bill": "charge",
    "billed": "charge",
    "cost": "price",
    "costs": "price",
    "yearly": "annual",
    "annually": "annual",
    "year": "annual",
    "delete": "remove",
    "erase": "remove",
    "2fa": "two-factor",
    "mfa": "two-factor",
    "pounds": "gbp",
    "pound": "gbp",
    "euros": "eur",
    "euro": "eur",
}
# Actions and their opposites (stemmed). A small English embedding model puts "export a
# project" next to "import a project"; a sentence about the opposite action answers another
# question.
_OPPOSITE_PAIRS = (
    ("import", "export"),
    ("upgrad", "downgrad"),
    ("enabl", "disabl"),
    ("add", "remov"),
    ("upload", "download"),
    ("join", "leav"),
    ("connect", "disconnect"),
    ("install", "uninstall"),
    ("increas", "decreas"),
    ("subscrib", "unsubscrib"),
    ("archiv", "unarchiv"),
    ("allow", "block"),
)
_OPPOSITES = {a: b for a, b in _OPPOSITE_PAIRS} | {b: a for a, b in _OPPOSITE_PAIRS}
_CUES = re.compile(
    r"\b(?:not|no|never|cannot|can'?t|don'?t|doesn'?t|isn'?t|aren'?t|won'?t|only|"
    r"not allowed|is available|are available|accepted|accept|always|yes)\b",
    re.I,
)
_DIGIT = re.compile(r"\d")


def classify(question: str) -> QuestionType:
    q = _GREETING.sub("", question.strip()).strip()
    if _HOW_MUCH.search(q):
        return QuestionType.NUMBER
    if _HOWTO.search(q) or _IMPERATIVE.match(q) or _PROBLEM.match(q):
        return QuestionType.HOWTO
    if _YESNO.match(q):
        return QuestionType.YESNO
    if _AMOUNT.search(q):
        return QuestionType.NUMBER
    return QuestionType.FACT


def stem(word: str) -> str:
    word = _SYNONYMS.get(word, word)
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def terms(text: str) -> set[str]:
    """The stemmed content words of ``text``."""
    return {stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def idf(documents: Sequence[set[str]]) -> dict[str, float]:
    """Inverse document frequency of each word over ``documents`` (the candidate sentences);
    a word none of them holds gets the highest weight when it is looked up with ``rare``."""
    n = len(documents)
    counts: dict[str, int] = {}
    for doc in documents:
        for word in doc:
            counts[word] = counts.get(word, 0) + 1
    return {w: math.log((n + 1) / (c + 0.5)) for w, c in counts.items()}


def rare(weights: dict[str, float], count: int) -> float:
    return math.log((count + 1) / 0.5)


def coverage(asked: Iterable[str], said: set[str], weights: dict[str, float], n: int) -> float:
    """The idf-weighted share of the question's words that ``said`` holds (0..1)."""
    total = found = 0.0
    for word in asked:
        w = weights.get(word, rare(weights, n))
        total += w
        if word in said:
            found += w
    return found / total if total else 0.0


def opposed(asked: Iterable[str], said: set[str]) -> bool:
    """Does ``said`` name the opposite of an action asked about, and not the action itself
    ("Importing from CSV" for "How do I export a project?")?"""
    return any(
        word not in said and _OPPOSITES.get(word) in said for word in asked if word in _OPPOSITES
    )


# "from monthly to annual", "from Team to Business": a change between two things. A sentence
# about the change the other way ("Switch to monthly at renewal") answers another question.
# The ends are words that start with a letter ("from 9am to 5pm" is a range), after a
# determiner or possessive ("from my phone to my laptop": phone, laptop).
_DET = r"(?:(?:an?|the|my|our|your|their|his|her|its)\s+)?"
_FROM_TO = re.compile(
    rf"\bfrom\s+{_DET}([a-z][\w-]*)(?:\s+[\w-]+)?\s+to\s+{_DET}([a-z][\w-]*)", re.I
)
# Where a sentence goes without saying where from: "Switch to monthly", "upgrade to Business".
_TOWARDS = re.compile(
    r"\b(?:switch(?:es|ed|ing)?|(?:chang|mov|upgrad|downgrad)(?:e|es|ed|ing)"
    r"|(?:convert|revert|transfer)(?:s|ed|ing|red|ring)?|go(?:es|ing)?)\s+(?:back\s+)?"
    rf"to\s+{_DET}([a-z][\w-]*)",
    re.I,
)
_PRONOUNS = frozenset({"you", "me", "us", "them", "it", "him", "her", "one", "another"})


def direction(text: str) -> tuple[str, str] | None:
    """The (from, to) of a change ``text`` names, stemmed ("from yearly to monthly billing":
    ("annual", "month")), or None (none named, or its ends are pronouns or stop words)."""
    found = _FROM_TO.search(text)
    if found is None:
        return None
    ends = found.group(1).lower(), found.group(2).lower()
    if any(e in _STOP or e in _PRONOUNS for e in ends):
        return None
    way = stem(ends[0]), stem(ends[1])
    return way if way[0] != way[1] else None


def goes(asked: tuple[str, str], text: str) -> tuple[str, str] | None:
    """Which way ``text`` goes between the two ends of ``asked``: ``asked`` itself, its
    reverse, or None (neither, or both)."""
    own = direction(text)
    if own == asked or own == asked[::-1]:
        return own
    towards = {stem(w.lower()) for w in _TOWARDS.findall(text)}
    source, target = asked
    if target in towards and source not in towards:
        return asked
    if source in towards and target not in towards:
        return (target, source)
    return None


def reverses(asked: tuple[str, str] | None, text: str) -> bool:
    """Does ``text`` describe the change ``asked`` about the other way round (from its target
    to its source, or a switch towards its source)?"""
    return asked is not None and goes(asked, text) == asked[::-1]


def follows(asked: tuple[str, str] | None, text: str) -> bool:
    """Does ``text`` describe the change ``asked`` about, the way it was asked?"""
    return asked is not None and goes(asked, text) == asked


def wrong_way(asked: tuple[str, str] | None, text: str, title_reverses: bool) -> bool:
    """Does ``text``, or its section title (``title_reverses``) when ``text`` does not say
    which way it goes, describe the change ``asked`` about the other way round?"""
    if asked is None:
        return False
    went = goes(asked, text)
    return went == asked[::-1] or (title_reverses and went != asked)


def answers_kind(kind: QuestionType, sentence: str) -> bool:
    """Does ``sentence`` have the shape of an answer to a question of ``kind``?"""
    if kind is QuestionType.NUMBER:
        return bool(_DIGIT.search(sentence))
    if kind is QuestionType.YESNO:
        return bool(_CUES.search(sentence))
    return False
