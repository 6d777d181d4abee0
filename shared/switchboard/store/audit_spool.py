"""A bounded local-disk buffer for audit events the database could not take (an outage).

Each process appends to its own JSON-lines file in the spool folder, holding an exclusive
``flock`` on it while it lives, and fsyncs every batch, so buffered events survive a crash
of the process. When the database is back the writer replays the file and empties it. Files
left by processes that died (their lock is free) are adopted and replayed the same way, by
whichever process gets there first. The file never grows past ``max_bytes``: what does not
fit is reported to the caller (``append`` returns how many events it kept), never dropped
quietly.

Blocking file calls: the audit writer runs these in a worker thread.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from switchboard.core.audit import AuditEvent

log = logging.getLogger(__name__)

PREFIX = "audit-"
SUFFIX = ".jsonl"


class AuditSpool:
    def __init__(self, folder: Path, *, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._file: IO[str] | None = None
        self.path = folder / f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        self.pending = 0  # events in this process's file
        self._size = 0

    def _own(self) -> IO[str]:
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a+", encoding="utf-8")
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return self._file

    @property
    def full(self) -> bool:
        """No room for another event (a generous 4 KiB each)."""
        return self._size + 4096 > self.max_bytes

    def append(self, events: Sequence[AuditEvent]) -> int:
        """Appends (and fsyncs) as many of ``events`` as fit under the bound; returns how many."""
        lines: list[str] = []
        size = self._size
        for event in events:
            line = event.model_dump_json() + "\n"
            if size + len(line.encode()) > self.max_bytes:
                break
            lines.append(line)
            size += len(line.encode())
        if not lines:
            return 0
        f = self._own()
        f.seek(0, os.SEEK_END)
        f.write("".join(lines))
        f.flush()
        os.fsync(f.fileno())
        self._size = size
        self.pending += len(lines)
        return len(lines)

    def read_own(self) -> list[AuditEvent]:
        """Every event buffered by this process, oldest first."""
        if self._file is None or not self.pending:
            return []
        self._file.seek(0)
        return _parse(self._file.read(), self.path)

    def keep_own(self, events: Sequence[AuditEvent]) -> None:
        """Rewrites this process's file to hold only ``events`` (those still unwritten)."""
        f = self._own()
        data = "".join(e.model_dump_json() + "\n" for e in events)
        f.seek(0)
        f.truncate()
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
        self.pending = len(events)
        self._size = len(data.encode())

    def orphans(self) -> list[Path]:
        """Spool files of processes that are gone (nobody holds their lock)."""
        if not self.folder.is_dir():
            return []
        return [p for p in sorted(self.folder.glob(f"{PREFIX}*{SUFFIX}")) if p != self.path]

    def adopt(self, path: Path) -> tuple[IO[str], list[AuditEvent]] | None:
        """Locks an orphaned file and reads it; None when its owner is alive or it is gone."""
        try:
            f = path.open("r+", encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return None
        return f, _parse(f.read(), path)

    @staticmethod
    def finish_orphan(path: Path, f: IO[str]) -> None:
        """Removes an adopted file once its events are in the database."""
        path.unlink(missing_ok=True)
        f.close()

    def close(self) -> None:
        """Closes (and unlocks) this process's file; an empty one is removed."""
        if self._file is None:
            return
        if not self.pending:
            self.path.unlink(missing_ok=True)
        self._file.close()
        self._file = None


def _parse(text: str, path: Path) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(AuditEvent.model_validate(json.loads(line)))
        except ValueError as exc:  # a torn last line after a crash mid-write
            log.error("unreadable audit spool line skipped", extra={"file": str(path), "line": n})
            log.debug("spool parse error", extra={"error": str(exc)})
    return events
