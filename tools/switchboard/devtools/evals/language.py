"""Language detection (``switchboard.guard.language``) on a written sample and on English sets.

``tests/data/language/<code>.txt``: short customer requests written for the purpose, 40 per
language (es, fr, de, pt, it), 10 per language of another script (zh, ja, ko, el, he, th, and
Russian/Ukrainian, Arabic/Persian and Hindi as ``und-Cyrl``, ``und-Arab``, ``und-Deva``) and
20 tricky English ones (foreign names and words in English requests). Even lines are ``dev``
(looked at while writing the word lists), odd lines are ``heldout`` (not looked at; the figure
that means something). English false positives (an English request told "English only") are
also counted on CLINC150's and SGD's English test requests when ``../shared/data`` has them.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from pathlib import Path
from typing import Any

from switchboard.devtools.evals.datasets import REPO_ROOT, DatasetMissing, load_clinc, load_sgd
from switchboard.guard.language import ENGLISH, detect_language

SAMPLES = REPO_ROOT / "tests" / "data" / "language"


def load_samples(folder: Path = SAMPLES) -> dict[str, list[str]]:
    return {
        p.stem: [t for t in p.read_text(encoding="utf-8").splitlines() if t.strip()]
        for p in sorted(folder.glob("*.txt"))
    }


def _split(rows: list[str], split: str) -> list[str]:
    return rows[0::2] if split == "dev" else rows[1::2]


def evaluate_language(data_root: Path, folder: Path = SAMPLES) -> dict[str, Any]:
    samples = load_samples(folder)
    report: dict[str, Any] = {}
    for split in ("dev", "heldout"):
        per_language: dict[str, float] = {}
        wrong: list[str] = []
        right_total = n_total = 0
        for lang, rows in samples.items():
            texts = _split(rows, split)
            guesses = [detect_language(t).language for t in texts]
            right = sum(g == lang for g in guesses)
            per_language[lang] = round(right / len(texts), 4)
            right_total += right
            n_total += len(texts)
            if split == "dev":
                wrong += [
                    f"{lang}->{g}: {t}" for t, g in zip(texts, guesses, strict=True) if g != lang
                ]
        report[split] = {
            "n": n_total,
            "accuracy": round(right_total / n_total, 4),
            "per_language": per_language,
            **({"wrong": wrong} if split == "dev" else {}),
        }
    english: list[str] = []
    with contextlib.suppress(DatasetMissing):
        english += [t for t, _ in load_clinc(data_root).test]
    with contextlib.suppress(DatasetMissing):
        english += [t for t, _ in load_sgd(data_root).rows]
    if english:
        t0 = time.perf_counter()
        found = [detect_language(t) for t in english]
        micros = (time.perf_counter() - t0) / len(english) * 1e6
        flagged = Counter(g.language for g in found if g.language != ENGLISH)
        report["english_datasets"] = {
            "n": len(english),
            "false_non_english_rate": round(sum(flagged.values()) / len(english), 5),
            "flagged_as": dict(flagged),
            "microseconds_per_request": round(micros, 1),
        }
    else:
        report["english_datasets"] = {"skipped": f"no CLINC150 or SGD under {data_root}"}
    return report
