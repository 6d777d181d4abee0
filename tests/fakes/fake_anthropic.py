"""The fake Anthropic Messages API for tests: the one implementation lives in devtools.

``make bench`` runs the same server (``switchboard.devtools.fake_anthropic``) in its own
process, so tests and bench share it; this module keeps the tests' import path.
"""

from switchboard.devtools.fake_anthropic import (
    COUNT_TOKENS_PATH,
    JSON,
    MESSAGES_PATH,
    FakeAnthropic,
    RecordedRequest,
    Reply,
    Responder,
    echo_responder,
    estimate_tokens,
    input_token_estimate,
    last_user_text,
    text_of,
)

__all__ = [
    "COUNT_TOKENS_PATH",
    "JSON",
    "MESSAGES_PATH",
    "FakeAnthropic",
    "RecordedRequest",
    "Reply",
    "Responder",
    "echo_responder",
    "estimate_tokens",
    "input_token_estimate",
    "last_user_text",
    "text_of",
]
