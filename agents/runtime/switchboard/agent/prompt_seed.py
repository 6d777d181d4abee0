"""Seeds the prompt registry at ingest: each agent's ``prompt.md`` and ``llm:`` block become a
version (idempotent by content hash), and version 1 gets the ``production`` label.

Git stays the source of truth for the first version, and prompt text is still reviewed in
pull requests; later versions are created and promoted with ``switchboard prompts``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from switchboard.agent.config import AgentConfig
from switchboard.agent.prompt_versions import seed_values
from switchboard.agent.settings import AgentSettings
from switchboard.store import Store


async def seed_registry(configs: list[Path], settings: AgentSettings) -> list[str]:
    """One line per agent saying what was recorded; skipped when prompts are off."""
    if not settings.prompts.enabled:
        return ["prompt registry off (SWITCHBOARD_PROMPTS_ENABLED=0): nothing seeded"]
    store = await Store.open(settings.store, url=settings.store.url(settings.data_dir))
    lines = []
    try:
        for path in configs:
            config = AgentConfig.load(path)
            text = await asyncio.to_thread(config.system_prompt_text)
            version, new = await store.prompts.seed(
                agent=config.name, **seed_values(config, text), label=settings.prompts.label
            )
            state = "recorded as" if new else "unchanged:"
            lines.append(f"{config.name}: prompt {state} {version.ref}")
    finally:
        await store.close()
    return lines
