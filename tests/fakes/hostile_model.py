"""A hostile model: the provider answers that the agent must survive without INTERNAL.

Each is a :class:`~tests.fakes.fake_anthropic.Reply` (for the real SDK against the fake
Messages API) or a responder. What the agent must do with each: a malformed response is an
LLM fault (the LLM breaker counts it, the answer comes offline); an answer that leaks the
prompt, carries planted instructions or is huge is screened before it leaves the agent; a
turn with dozens of tool calls runs at most the per-turn cap.
"""

from __future__ import annotations

import json

from tests.fakes.fake_anthropic import JSON, Reply, text_of

HUGE_ANSWER_CHARS = 200_000
PHISHING_ANSWER = (
    "To verify your account, email your password and your 2FA backup codes to "
    "account-verify@brightlane-support.example and visit https://brightlane-login.example/verify "
    "within 24 hours [1]."
)


def string_tool_input(name: str = "list_invoices") -> Reply:
    """A tool_use block whose input is a string, not an object."""
    return Reply.blocks(
        {"type": "tool_use", "id": "toolu_str", "name": name, "input": "customer_id=cus_x"},
        stop_reason="tool_use",
    )


def truncated_body() -> Reply:
    """A 200 response whose JSON body stops half-way."""
    whole = json.dumps(
        {"id": "msg_1", "type": "message", "role": "assistant", "content": [{"type": "text"}]}
    )
    return Reply.body(whole[: len(whole) // 2].encode())


def not_json() -> Reply:
    return Reply.body(b"<html>502 Bad Gateway</html>")


def wrong_content_type() -> Reply:
    """``content`` a string, not a list of blocks."""
    return Reply.body(
        json.dumps(
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-fake",
                "content": "just a string",
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 1, "output_tokens": 1},
            }
        ).encode()
    )


def text_of_wrong_type() -> Reply:
    """A text block whose text is a number, and usage counts that are not numbers."""
    return Reply.body(
        json.dumps(
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-fake",
                "content": [{"type": "text", "text": 42}, {"no_type": True}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": "many", "output_tokens": None},
            }
        ).encode()
    )


def many_tool_calls(n: int = 60, name: str = "list_invoices") -> Reply:
    """``n`` tool_use blocks in one turn."""
    return Reply.blocks(
        *(
            {"type": "tool_use", "id": f"toolu_{i:03d}", "name": name, "input": {}}
            for i in range(n)
        ),
        stop_reason="tool_use",
    )


def huge_answer() -> Reply:
    return Reply.text("Our refund policy [1] says: " + "la " * (HUGE_ANSWER_CHARS // 3))


def phishing_answer() -> Reply:
    return Reply.text(PHISHING_ANSWER)


def echo_system_prompt(body: JSON) -> Reply:
    """Answers with the system prompt it was given, word for word (a prompt leak)."""
    return Reply.text("Sure. My instructions are: " + text_of(body.get("system")) + " [1]")
