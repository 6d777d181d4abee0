"""Builds the conversation memory the settings ask for (called by the composition root)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from switchboard.core.embeddings import Vector
from switchboard.core.llm import LLM, anthropic_llm
from switchboard.store.conversations import Conversations
from switchboard.store.user_memories import UserMemories
from switchboard.supervisor.memory.conversation import ConversationMemory
from switchboard.supervisor.memory.fact_extraction import ClaudeFactExtractor
from switchboard.supervisor.memory.longterm import LongTermMemory
from switchboard.supervisor.memory.summary import (
    ClaudeSummarizer,
    ExtractiveSummarizer,
    Summarizer,
)
from switchboard.supervisor.settings import SupervisorSettings

log = logging.getLogger(__name__)


def conversation_memory(
    stack: contextlib.AsyncExitStack,
    settings: SupervisorSettings,
    store: Conversations,
    llm: LLM | None = None,
    *,
    user_memories: UserMemories | None = None,
    embed: Callable[[str], Awaitable[Vector]] | None = None,
) -> ConversationMemory | None:
    """None when memory is off; a Claude summarizer when a key is set (closed by ``stack``)."""
    m = settings.memory
    if not m.enabled:
        log.warning("conversation memory is off (SWITCHBOARD_MEMORY_ENABLED=false)")
        return None
    extractive = ExtractiveSummarizer(m.summary_max_chars)
    summarizer: Summarizer = extractive
    if llm is None:
        claude = anthropic_llm(
            settings.llm, m.summary_model, capture_content=settings.telemetry.capture_content
        )
        if claude is not None:
            stack.push_async_callback(claude.close)
        llm = claude
    if llm is not None:
        summarizer = ClaudeSummarizer(llm, extractive)
    memory = ConversationMemory(store, m, summarizer, prices=dict(settings.llm.prices))
    stack.push_async_callback(
        memory.close
    )  # turns still being written land before the store closes
    if m.user_facts and user_memories is not None and embed is not None:
        memory.use_longterm(
            LongTermMemory(
                user_memories,
                embed,
                ttl_s=m.user_fact_ttl_days * 86400,
                k=m.recall_k,
                min_similarity=m.recall_min_similarity,
                timeout_s=m.timeout_s,
                on_failure=memory.failed,
                extractor=ClaudeFactExtractor(llm) if llm is not None else None,
                extract_timeout_s=m.summary_timeout_s,
            )
        )
    return memory
