"""A local fake of the Anthropic Messages API, standard library only.

Point the real SDK at it::

    with FakeAnthropic() as fake:
        fake.script(Reply.text("hi", input_tokens=10, output_tokens=2))
        client = anthropic.AsyncAnthropic(api_key="test-key", base_url=fake.base_url)

Serves ``POST /v1/messages`` and ``POST /v1/messages/count_tokens``. A request with
``"stream": true`` is answered with server-sent events as the real API sends them
(``fake_anthropic_sse.py``): ``Reply.streaming(...)`` sets a reply's inter-token delay, an
``overloaded_error`` after some tokens, or a stall; ``fake.token_delay_s`` is the default
delay and ``fake.streams`` records each stream (tokens written, when the client went away).
Scripted replies are served FIFO; when the queue is empty ``fake.default`` answers
(a ``Reply`` or a callable ``(request_body) -> Reply``). Every POST is recorded in
``fake.requests`` (count_tokens calls too; filter on ``.path`` if that matters).

Standalone: ``python -m switchboard.devtools.fake_anthropic --port 8765`` (``make bench``
runs it so, in its own process). Two control paths serve a fake run from another process:
``POST /_fake/config`` with ``{"delay_s": 0.2}`` delays every default answer
(``"token_delay_s"``: between streamed tokens; ``"reply_words"``: default answers of that
many words), and
``GET /_fake/stats`` returns ``{"messages": n, "input_tokens": n}`` (Messages calls so far),
``GET /_fake/streams`` every stream's record (``time.monotonic()`` stamps: one clock for every
process of the machine).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from switchboard.devtools.fake_anthropic_sse import (
    SSEWriter,
    StreamOptions,
    StreamPlan,
    StreamRecord,
)

JSON = dict[str, Any]
Responder = Callable[[JSON], "Reply"]

MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
CONFIG_PATH = "/_fake/config"
STATS_PATH = "/_fake/stats"
STREAMS_PATH = "/_fake/streams"
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def estimate_tokens(text: str) -> int:
    """Deterministic rough token count: about four characters per token, at least 1."""
    return max(1, (len(text) + 3) // 4)


def text_of(value: Any) -> str:
    """Flatten message content (string, block list, tool_use/tool_result blocks) to text."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(t for t in (text_of(v) for v in value) if t)
    if isinstance(value, dict):
        for key in ("text", "content"):
            if key in value:
                return text_of(value[key])
        if "input" in value:
            return json.dumps(value["input"], sort_keys=True)
    return ""


def last_user_text(body: JSON) -> str:
    """Text of the last ``role == "user"`` message in a request body ("" if none)."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))
    return ""


def input_token_estimate(body: JSON) -> int:
    """Rough input tokens for a request: system + messages + tool definitions."""
    parts = [text_of(body.get("system")), text_of(body.get("messages"))]
    if body.get("tools"):
        parts.append(json.dumps(body["tools"], sort_keys=True))
    return estimate_tokens(" ".join(parts))


def echo_responder(body: JSON) -> Reply:
    """Default responder: a short text quoting the first 200 chars of the last user text,
    citing document [1] as the agents' prompt asks (an agent with strict grounding escalates
    an answer that cites nothing)."""
    return Reply.text(f'Fake reply to: "{last_user_text(body)[:200]}" [1]')


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build with ``text``, ``tool_use``, ``error`` or ``delay``."""

    status: int = 200
    content: tuple[JSON, ...] = ()
    stop_reason: str | None = "end_turn"
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read: int = 0
    cache_creation: int = 0
    error_type: str | None = None
    message: str = ""
    retry_after: float | None = None
    delay_seconds: float = 0.0
    raw: bytes | None = None  # sent as the body verbatim (a truncated JSON body, say)
    stream: StreamOptions | None = None  # how it streams when asked to (None: fake defaults)

    @classmethod
    def text(
        cls,
        text: str,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read: int = 0,
        cache_creation: int = 0,
        stop_reason: str = "end_turn",
    ) -> Reply:
        return cls(
            content=({"type": "text", "text": text},),
            stop_reason=stop_reason,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read=cache_read,
            cache_creation=cache_creation,
        )

    @classmethod
    def tool_use(
        cls,
        name: str,
        input: JSON,
        *,
        text_before: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        tool_id: str | None = None,
    ) -> Reply:
        """A tool call; ``tool_id`` defaults to a fresh ``toolu_...`` id per response."""
        block: JSON = {"type": "tool_use", "name": name, "input": dict(input)}
        if tool_id is not None:
            block["id"] = tool_id
        prefix: tuple[JSON, ...] = ({"type": "text", "text": text_before},) if text_before else ()
        return cls(
            content=(*prefix, block),
            stop_reason="tool_use",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )

    @classmethod
    def error(
        cls,
        status: int,
        *,
        error_type: str | None = None,
        message: str = "Fake Anthropic error",
        retry_after: float | None = None,
    ) -> Reply:
        """An API error; ``error_type`` defaults from the status (429 -> rate_limit_error...)."""
        default_type = "api_error" if status >= 500 else "invalid_request_error"
        return cls(
            status=status,
            stop_reason=None,
            error_type=error_type or _ERROR_TYPES.get(status, default_type),
            message=message,
            retry_after=retry_after,
        )

    @classmethod
    def delay(cls, seconds: float, then: Reply) -> Reply:
        """``then``, answered only after sleeping ``seconds`` (for client timeout tests)."""
        return dataclasses.replace(then, delay_seconds=then.delay_seconds + seconds)

    @classmethod
    def blocks(cls, *content: JSON, stop_reason: str = "end_turn") -> Reply:
        """Content blocks exactly as given (no checks: a hostile model's wrong shapes too)."""
        return cls(content=content, stop_reason=stop_reason)

    def streaming(
        self,
        *,
        token_delay_s: float = 0.0,
        fail_after_tokens: int | None = None,
        stall_after_tokens: int | None = None,
        stall_s: float = 60.0,
    ) -> Reply:
        """This reply, streamed (when the request asks to stream) with a delay between tokens,
        an ``overloaded_error`` event after ``fail_after_tokens``, or a stall (no more bytes,
        connection kept open for ``stall_s``) after ``stall_after_tokens``."""
        options = StreamOptions(token_delay_s, fail_after_tokens, stall_after_tokens, stall_s)
        return dataclasses.replace(self, stream=options)

    @classmethod
    def body(cls, raw: bytes, *, status: int = 200) -> Reply:
        """A response whose body is ``raw`` bytes, JSON or not."""
        return cls(status=status, raw=raw)

    def render(self, body: JSON) -> tuple[int, dict[str, str], JSON]:
        """Status, extra headers and JSON payload answering the request ``body``."""
        if self.status != 200:
            headers = {} if self.retry_after is None else {"retry-after": f"{self.retry_after:g}"}
            error = {"type": self.error_type, "message": self.message}
            return self.status, headers, {"type": "error", "error": error}
        content = [dict(block) for block in self.content]
        for block in content:
            if block["type"] == "tool_use" and "id" not in block:
                block["id"] = f"toolu_{uuid.uuid4().hex[:24]}"
        usage = {
            "input_tokens": (
                input_token_estimate(body) if self.input_tokens is None else self.input_tokens
            ),
            "output_tokens": (
                estimate_tokens(text_of(content))
                if self.output_tokens is None
                else self.output_tokens
            ),
            "cache_creation_input_tokens": self.cache_creation,
            "cache_read_input_tokens": self.cache_read,
        }
        payload: JSON = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude-fake"),
            "content": content,
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        return 200, {}, payload


@dataclass(frozen=True)
class RecordedRequest:
    """A request the fake received; ``body`` is ``{}`` when it was not a JSON object."""

    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: JSON = field(default_factory=dict)

    @property
    def api_key(self) -> str | None:
        """The credential sent: ``x-api-key``, else the ``Authorization: Bearer`` token.

        (anthropic 2.x sends ``api_key`` as ``Authorization: Bearer <key>``.)
        """
        if "x-api-key" in self.headers:
            return self.headers["x-api-key"]
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" and token else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # streamed events leave at once, as a real server's do
    timeout = 30  # idle keep-alive connections release their thread eventually

    def __init__(self, *args: Any, fake: FakeAnthropic, **kwargs: Any) -> None:
        self.fake = fake
        super().__init__(*args, **kwargs)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, extra, payload = self.fake._respond(self.path.split("?", 1)[0], headers, raw)
        if isinstance(payload, StreamPlan):
            self._stream(payload)
            return
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # client gave up (timeout test)
            self.close_connection = True

    def _stream(self, plan: StreamPlan) -> None:
        record = self.fake._stream_started()
        try:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
            self.end_headers()
            SSEWriter(self.wfile, plan, record, self.fake._stopping).write()
        except (BrokenPipeError, ConnectionResetError):  # the client closed the stream
            record.client_gone = time.monotonic()
            self.close_connection = True

    def do_GET(self) -> None:
        if self.path == STREAMS_PATH:  # every stream so far (the bench's time to first token)
            status, payload = 200, {"streams": [dataclasses.asdict(r) for r in self.fake.streams]}
        else:
            status, payload = (200, self.fake.stats()) if self.path == STATS_PATH else (404, {})
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-request (a cancelled stream, a timed-out SDK call) is part
    of what the fake is for, not an error worth a traceback on stderr."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class FakeAnthropic:
    """The fake server. Use as a context manager, or call ``start()`` / ``stop()``."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, require_api_key: bool = True):
        self.default: Reply | Responder = echo_responder
        self.default_delay_s = 0.0  # added to every answer of ``default`` (``/_fake/config``)
        self.token_delay_s = 0.0  # between streamed tokens, unless the reply says otherwise
        self.reply_words = 0  # >0: the echo default answers with this many words
        self._streams: list[StreamRecord] = []
        self._messages = 0
        self._input_tokens = 0
        self.require_api_key = require_api_key
        self._host, self._port = host, port
        self._queue: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeAnthropic is not running")
        return f"http://{self._host}:{self._server.server_port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def pending(self) -> int:
        """How many scripted replies have not been served yet."""
        with self._lock:
            return len(self._queue)

    @property
    def streams(self) -> list[StreamRecord]:
        """Every streamed answer so far, oldest first."""
        with self._lock:
            return list(self._streams)

    def _stream_started(self) -> StreamRecord:
        record = StreamRecord(started=time.monotonic())
        with self._lock:
            self._streams.append(record)
        return record

    def stats(self) -> JSON:
        """Messages calls answered so far and the input tokens they carried."""
        with self._lock:
            return {"messages": self._messages, "input_tokens": self._input_tokens}

    def script(self, *replies: Reply) -> None:
        """Queue replies, served in order before falling back to ``default``."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        """Forget queued replies and recorded requests; restore the echo default."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
        self.default = echo_responder

    def start(self) -> Self:
        if self._server is None:
            self._stopping.clear()
            self._server = _QuietServer((self._host, self._port), partial(_Handler, fake=self))
            self._server.daemon_threads = True
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="fake-anthropic",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a Reply.delay
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _respond(
        self, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], JSON | bytes | StreamPlan]:
        try:
            parsed = json.loads(raw or b"{}")
        except ValueError:
            parsed = None
        body: JSON | None = parsed if isinstance(parsed, dict) else None
        if path == CONFIG_PATH and body is not None:
            self.default_delay_s = float(body.get("delay_s", self.default_delay_s))
            self.token_delay_s = float(body.get("token_delay_s", self.token_delay_s))
            self.reply_words = int(body.get("reply_words", self.reply_words))
            return 200, {}, {"delay_s": self.default_delay_s, "token_delay_s": self.token_delay_s}
        with self._lock:
            self._requests.append(RecordedRequest(path, headers, body or {}))
            if path == MESSAGES_PATH and body is not None:
                self._messages += 1
                self._input_tokens += input_token_estimate(body)
        if path not in (MESSAGES_PATH, COUNT_TOKENS_PATH):
            reply = Reply.error(404, message=f"Unknown path: {path}")
        elif self.require_api_key and not (
            headers.get("x-api-key") or headers.get("authorization")
        ):
            reply = Reply.error(401, message="Missing x-api-key header")
        elif body is None:
            reply = Reply.error(400, message="Request body must be a JSON object")
        elif path == COUNT_TOKENS_PATH:
            return 200, {}, {"input_tokens": input_token_estimate(body)}
        else:
            try:
                reply = self._next_reply(body)
            except Exception as exc:  # a broken test responder should fail loudly, not hang
                reply = Reply.error(500, message=f"FakeAnthropic responder raised {exc!r}")
        if reply.delay_seconds > 0:
            self._stopping.wait(reply.delay_seconds)
        if reply.raw is not None:
            return reply.status, {}, reply.raw
        status, extra, payload = reply.render(body or {})
        if status == 200 and body is not None and body.get("stream") is True:
            options = reply.stream or StreamOptions(token_delay_s=self.token_delay_s)
            return status, extra, StreamPlan(payload, options)
        return status, extra, payload

    def _next_reply(self, body: JSON) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        default = self.default
        if self.reply_words > 0 and default is echo_responder:
            words = [f"word{i}" for i in range(self.reply_words)]
            reply = Reply.text(" ".join([*words[:-1], f"{words[-1]} [1]"]))
        else:
            reply = default if isinstance(default, Reply) else default(body)
        if self.default_delay_s > 0:
            reply = Reply.delay(self.default_delay_s, reply)
        return reply


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a fake Anthropic Messages API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", type=Path, help='write {"port": n} here once bound')
    args = parser.parse_args(argv)
    with FakeAnthropic(host=args.host, port=args.port) as fake:
        print(f"Fake Anthropic API at {fake.base_url} (Ctrl-C to stop)", flush=True)
        if args.ready_file is not None:
            tmp = args.ready_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"port": int(fake.base_url.rsplit(":", 1)[1])}))
            tmp.replace(args.ready_file)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
