"""Readers for the evaluation datasets in ``../shared/data`` (never copied into the repo)."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[4]
DATA_ENV = "SWITCHBOARD_EVAL_DATA"


def data_dir(override: Path | None = None) -> Path:
    """``--data-dir``, else ``$SWITCHBOARD_EVAL_DATA``, else ``../shared/data`` from the repo."""
    if override is not None:
        return override
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    return (REPO_ROOT / ".." / "shared" / "data").resolve()


class DatasetMissing(Exception):
    """The dataset folder is absent: that part of the evaluation is skipped."""


@dataclass
class Clinc:
    """CLINC150 at the domain level: rows are ``(text, domain)``; domain ``""`` = out of scope."""

    domains: list[str]
    train: list[tuple[str, str]]
    val: list[tuple[str, str]]
    test: list[tuple[str, str]]
    oos_train: list[str]
    oos_val: list[str]
    oos_test: list[str]
    train_intents: list[str] = field(default_factory=list)


def load_clinc(root: Path) -> Clinc:
    folder = root / "clinc150"
    full, domains_file = folder / "data_full.json", folder / "domains.json"
    if not full.is_file() or not domains_file.is_file():
        raise DatasetMissing(f"CLINC150 not found under {folder}")
    raw = json.loads(full.read_text(encoding="utf-8"))
    domains: dict[str, list[str]] = json.loads(domains_file.read_text(encoding="utf-8"))
    intent_domain = {i: d for d, intents in domains.items() for i in intents}

    def rows(split: str) -> list[tuple[str, str]]:
        return [(t, intent_domain[i]) for t, i in raw[split]]

    return Clinc(
        domains=sorted(domains),
        train=rows("train"),
        val=rows("val"),
        test=rows("test"),
        oos_train=[t for t, _ in raw["oos_train"]],
        oos_val=[t for t, _ in raw["oos_val"]],
        oos_test=[t for t, _ in raw["oos_test"]],
        train_intents=[i for _, i in raw["train"]],
    )


@dataclass
class SciFact:
    corpus: dict[str, tuple[str, str]]  # id -> (title, text), in file order
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)


def load_scifact(root: Path) -> SciFact:
    folder = root / "scifact"
    parts = sorted(folder.glob("corpus*.jsonl"))
    queries_file, qrels_file = folder / "queries.train.jsonl", folder / "qrels" / "train.tsv"
    if not parts or not queries_file.is_file() or not qrels_file.is_file():
        raise DatasetMissing(f"SciFact not found under {folder}")
    corpus: dict[str, tuple[str, str]] = {}
    for part in parts:
        for line in part.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                corpus[str(row["_id"])] = (row.get("title", ""), row.get("text", ""))
    queries: dict[str, str] = {}
    for line in queries_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            queries[str(row["_id"])] = row["text"]
    qrels: dict[str, dict[str, int]] = {}
    with qrels_file.open(encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter="\t")
        next(reader, None)
        for qid, did, score in reader:
            if int(score) > 0:
                qrels.setdefault(qid, {})[did] = int(score)
    queries = {q: t for q, t in queries.items() if q in qrels}
    return SciFact(corpus=corpus, queries=queries, qrels=qrels)


@dataclass
class Sgd:
    """Schema-Guided Dialogue first user turns at the domain level: rows are ``(text, domain)``."""

    domains: list[str]
    rows: list[tuple[str, str]]


def load_sgd(root: Path) -> Sgd:
    path = root / "sgd" / "first_turns.jsonl"
    if not path.is_file():
        raise DatasetMissing(f"SGD first turns not found at {path}")
    rows: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows.append((str(row["text"]), str(row["domain"])))
    return Sgd(domains=sorted({d for _, d in rows}), rows=rows)
