"""Server-sent events for the fake Messages API, as the real API streams a message.

A request with ``"stream": true`` is answered ``text/event-stream`` (chunked): ``message_start``
(with the input usage), a ``ping``, per content block ``content_block_start``, its deltas
(``text_delta`` one word at a time, ``input_json_delta`` for tool input) and
``content_block_stop``, then ``message_delta`` (stop reason and the output usage) and
``message_stop``. A reply can wait between tokens (``token_delay_s``), fail after some tokens
with an ``error`` event (``overloaded_error``, as the API does mid-stream), or stall (stop
writing without closing). Each stream is recorded (:class:`StreamRecord`): tokens written and
when the client went away, so tests can see how fast a cancelled stream was closed.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from io import BufferedIOBase
from typing import Any

JSON = dict[str, Any]

_WORD = re.compile(r"\s*\S+\s*")


@dataclass
class StreamOptions:
    """How one reply streams (the fake's defaults fill what the reply leaves unset)."""

    token_delay_s: float = 0.0
    fail_after_tokens: int | None = None  # then an overloaded_error event
    stall_after_tokens: int | None = None  # then silence, connection open
    stall_s: float = 60.0


@dataclass
class StreamPlan:
    """A rendered message to send as events."""

    message: JSON
    options: StreamOptions


@dataclass
class StreamRecord:
    """What happened to one stream."""

    started: float
    tokens: int = 0
    first_token: float | None = None  # time.monotonic() when the first token was written
    finished: float | None = None  # all events written
    failed: bool = False  # ended with an error event
    client_gone: float | None = None  # time.monotonic() when a write found the client gone


def tokens_of(text: str) -> list[str]:
    """``text`` in word-sized pieces that concatenate back to it."""
    pieces = _WORD.findall(text)
    return pieces if "".join(pieces) == text else [text]


class SSEWriter:
    """Writes one streamed message to ``out`` (the handler's socket file)."""

    def __init__(
        self, out: BufferedIOBase, plan: StreamPlan, record: StreamRecord, stop: threading.Event
    ):
        self._out = out
        self._plan = plan
        self._record = record
        self._stop = stop

    def _send(self, event: str, data: JSON) -> None:
        body = f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()
        self._out.write(f"{len(body):x}\r\n".encode() + body + b"\r\n")
        self._out.flush()

    def _token(self, index: int, delta: JSON) -> bool:
        """Sends one token; False when the stream must end here (error or stall)."""
        o = self._plan.options
        if o.fail_after_tokens is not None and self._record.tokens >= o.fail_after_tokens:
            error = {"type": "overloaded_error", "message": "Overloaded"}
            self._send("error", {"type": "error", "error": error})
            self._record.failed = True
            return False
        if o.stall_after_tokens is not None and self._record.tokens >= o.stall_after_tokens:
            self._stop.wait(o.stall_s)
            return False
        if o.token_delay_s > 0 and self._record.tokens:
            self._stop.wait(o.token_delay_s)
        self._send("content_block_delta", {"type": "content_block_delta", "index": index,
                                           "delta": delta})  # fmt: skip
        self._record.tokens += 1
        if self._record.first_token is None:
            self._record.first_token = time.monotonic()
        return True

    def write(self) -> None:
        m = self._plan.message
        usage = dict(m["usage"])
        start = {**m, "content": [], "stop_reason": None,
                 "usage": {**usage, "output_tokens": 1}}  # fmt: skip
        self._send("message_start", {"type": "message_start", "message": start})
        self._send("ping", {"type": "ping"})
        for index, block in enumerate(m["content"]):
            if block.get("type") == "tool_use":
                opening = {**block, "input": {}}
                pieces = [
                    {"type": "input_json_delta", "partial_json": p}
                    for p in _chunks(json.dumps(block.get("input", {})), 16)
                ]
            else:
                opening = {"type": "text", "text": ""}
                pieces = [
                    {"type": "text_delta", "text": t} for t in tokens_of(str(block.get("text", "")))
                ]
            self._send("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": opening})  # fmt: skip
            for piece in pieces:
                if not self._token(index, piece):
                    self._end()
                    return
            self._send("content_block_stop", {"type": "content_block_stop", "index": index})
        delta = {"stop_reason": m["stop_reason"], "stop_sequence": None}
        out_usage = {"output_tokens": usage["output_tokens"]}
        self._send("message_delta", {"type": "message_delta", "delta": delta, "usage": out_usage})
        self._send("message_stop", {"type": "message_stop"})
        self._end()
        self._record.finished = time.monotonic()

    def _end(self) -> None:
        self._out.write(b"0\r\n\r\n")
        self._out.flush()


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
