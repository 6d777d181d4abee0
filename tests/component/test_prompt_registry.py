"""The prompt registry: immutable versions, compare-and-set labels, audited moves, on SQLite
and (when reachable) PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Connection

from switchboard.core import errors
from switchboard.store import Store, StoreSettings
from switchboard.store.models import PromptLabelMoveRow, PromptLabelRow, PromptVersionRow
from switchboard.store.prompt_types import MAX_PROMPT_CHARS, parse_version
from switchboard.store.prompts import LabelMoved
from tests.harness.store import open_sqlite_store, postgres_database

PARAMS = {"max_tokens": 700}


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        s = await open_sqlite_store(tmp_path)
        yield s
        await s.close()
        return
    async with postgres_database() as url:
        settings = StoreSettings(database_url=url)
        s = await Store.open(settings, url=settings.url(tmp_path))
        yield s
        await s.close()


async def _create(store: Store, text: str, agent: str = "billing", **kw: object) -> int:
    version, _ = await store.prompts.create(
        agent=agent,
        system_prompt=text,
        rules=str(kw.get("rules", "## How to answer\n- cite")),
        model=str(kw.get("model", "claude-sonnet-4-6")),
        params=PARAMS,
        author="alice",
        note=str(kw.get("note", "why")),
    )
    return version.number


async def test_migration_creates_the_registry_tables(tmp_path: Path) -> None:
    store = await open_sqlite_store(tmp_path)
    try:

        def tables(conn: Connection) -> set[str]:
            return set(inspect(conn).get_table_names())

        async with store.engine.connect() as conn:
            names = await conn.run_sync(tables)
        assert {"prompt_versions", "prompt_labels", "prompt_label_moves"} <= names
    finally:
        await store.close()


async def test_versions_count_up_and_the_same_content_is_the_same_version(store: Store) -> None:
    assert await _create(store, "You are billing.") == 1
    assert await _create(store, "You are billing. Be brief.") == 2
    # Same content, another note: idempotent by hash, nothing new written.
    again, new = await store.prompts.create(
        agent="billing",
        system_prompt="You are billing.",
        rules="## How to answer\n- cite",
        model="claude-sonnet-4-6",
        params=PARAMS,
        author="bob",
        note="again",
    )
    assert (again.number, new, again.author) == (1, False, "alice")
    assert await _create(store, "You are billing.", agent="support") == 1  # per agent
    v2 = await store.prompts.get("billing", 2)
    assert v2.ref == "billing@v2" and v2.params == PARAMS and len(v2.content_hash) == 64
    assert [v.number for v in await store.prompts.versions("billing")] == [1, 2]
    assert await store.prompts.agents() == ["billing", "support"]


async def test_concurrent_creates_get_distinct_numbers(store: Store) -> None:
    numbers = await asyncio.gather(*(_create(store, f"prompt {i}") for i in range(6)))
    assert sorted(numbers) == [1, 2, 3, 4, 5, 6]


async def test_labels_move_by_compare_and_set_and_every_move_is_audited(store: Store) -> None:
    for text in ("a", "b", "c"):
        await _create(store, text)
    first = await store.prompts.move("billing", "production", to=1, expect_revision=0, actor="a")
    assert (first.version, first.revision) == (1, 1)
    second = await store.prompts.move(
        "billing", "production", to=2, expect_revision=1, actor="b", reason="better tone"
    )
    assert (second.version, second.revision) == (2, 2)
    # A move from a stale read loses, and says so; the label is untouched.
    with pytest.raises(LabelMoved, match="someone else moved it"):
        await store.prompts.move("billing", "production", to=3, expect_revision=1, actor="c")
    label = await store.prompts.label("billing", "production")
    assert label is not None and label.version == 2
    moves = await store.prompts.history("billing", "production")
    assert [(m.from_version, m.to_version, m.actor, m.reason) for m in moves] == [
        (1, 2, "b", "better tone"),
        (None, 1, "a", ""),
    ]


async def test_of_two_concurrent_moves_exactly_one_wins(store: Store) -> None:
    for text in ("a", "b", "c"):
        await _create(store, text)
    await store.prompts.move("billing", "production", to=1, expect_revision=0, actor="a")
    results = await asyncio.gather(
        store.prompts.move("billing", "production", to=2, expect_revision=1, actor="x"),
        store.prompts.move("billing", "production", to=3, expect_revision=1, actor="y"),
        return_exceptions=True,
    )
    lost = [r for r in results if isinstance(r, LabelMoved)]
    won = [r for r in results if not isinstance(r, BaseException)]
    assert len(lost) == 1 and len(won) == 1
    assert len(await store.prompts.history("billing", "production")) == 2  # no lost audit row


async def test_canary_split_is_stored_and_resolved(store: Store) -> None:
    await _create(store, "a")
    await _create(store, "b")
    await store.prompts.move("billing", "production", to=1, expect_revision=0, actor="a")
    label = await store.prompts.move(
        "billing", "production", to=1, expect_revision=1, actor="a", canary=2, canary_percent=10
    )
    assert label.describe() == "v1 90%, v2 10%"
    resolved = await store.prompts.resolve("billing", "production")
    assert resolved is not None and resolved.canary is not None
    assert (resolved.main.number, resolved.canary.number) == (1, 2)
    assert await store.prompts.resolve("billing", "staging") is None


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"to": 9}, errors.NotFound, "no prompt version v9"),
        ({"to": 1, "canary": 1, "canary_percent": 50}, errors.InvalidRequest, "another version"),
        ({"to": 1, "canary": 2, "canary_percent": 100}, errors.InvalidRequest, "1-99"),
        ({"to": 1, "canary_percent": 5}, errors.InvalidRequest, "needs a canary version"),
        ({"to": 1, "canary": 7, "canary_percent": 5}, errors.NotFound, "v7"),
    ],
)
async def test_bad_moves_are_refused_and_write_nothing(
    store: Store, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    await _create(store, "a")
    await _create(store, "b")
    with pytest.raises(error, match=message):
        await store.prompts.move("billing", "production", expect_revision=0, actor="a", **kwargs)
    assert await _count(store, PromptLabelRow) == 0
    assert await _count(store, PromptLabelMoveRow) == 0


async def test_unknown_agents_labels_and_bad_content_are_refused(store: Store) -> None:
    with pytest.raises(errors.NotFound, match="has no prompt versions"):
        await store.prompts.get("nobody", 1)
    with pytest.raises(errors.InvalidRequest, match="invalid label"):
        await store.prompts.move("billing", "Prod!", to=1, expect_revision=0, actor="a")
    with pytest.raises(errors.InvalidRequest, match="empty"):
        await _create(store, "   \n")
    with pytest.raises(errors.InvalidRequest, match=f"at most {MAX_PROMPT_CHARS}"):
        await _create(store, "x" * (MAX_PROMPT_CHARS + 1))
    with pytest.raises(errors.InvalidRequest, match="invalid agent"):
        await _create(store, "fine", agent="Not An Agent")
    assert await _count(store, PromptVersionRow) == 0


def test_version_names_belong_to_their_agent() -> None:
    assert parse_version("billing", "3") == 3
    assert parse_version("billing", "v3") == 3
    assert parse_version("billing", "billing@v3") == 3
    with pytest.raises(errors.InvalidRequest, match="version of agent 'support'"):
        parse_version("billing", "support@v3")
    with pytest.raises(errors.InvalidRequest, match="not a prompt version"):
        parse_version("billing", "latest")


async def test_seeding_is_idempotent_and_labels_production_once(store: Store) -> None:
    args: dict[str, Any] = {
        "system_prompt": "You are billing.", "rules": "r", "model": "m", "params": PARAMS,
    }  # fmt: skip
    v1, new = await store.prompts.seed(agent="billing", **args)
    again, new_again = await store.prompts.seed(agent="billing", **args)
    assert (v1.number, new, again.number, new_again) == (1, True, 1, False)
    await _create(store, "v2 text")
    await store.prompts.move("billing", "production", to=2, expect_revision=1, actor="a")
    edited = {**args, "system_prompt": "You are billing, edited in git."}
    v3, _ = await store.prompts.seed(agent="billing", **edited)
    label = await store.prompts.label("billing", "production")
    assert v3.number == 3 and label is not None and label.version == 2  # seeding never moves


async def _count(store: Store, model: type) -> int:
    async with store.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_ingest_seeds_each_agent_once(tmp_path: Path) -> None:
    """``switchboard ingest`` records prompt.md + the llm: block as v1 and labels it."""
    from switchboard.agent.prompt_seed import seed_registry
    from switchboard.agent.settings import AgentSettings
    from tests.conftest import AGENTS_DIR

    configs = [AGENTS_DIR / name / "agent.yaml" for name in ("billing", "support")]
    settings = AgentSettings(data_dir=tmp_path)
    assert await seed_registry(configs, settings) == [
        "billing: prompt recorded as billing@v1",
        "support: prompt recorded as support@v1",
    ]
    assert (await seed_registry(configs, settings))[0] == "billing: prompt unchanged: billing@v1"
    store = await open_sqlite_store(tmp_path)
    try:
        v1 = await store.prompts.get("billing", 1)
        label = await store.prompts.label("billing", "production")
        assert label is not None and label.version == 1
        assert v1.system_prompt == (AGENTS_DIR / "billing" / "prompt.md").read_text()
        assert v1.params == {"max_tokens": 700} and "## How to answer" in v1.rules
    finally:
        await store.close()
