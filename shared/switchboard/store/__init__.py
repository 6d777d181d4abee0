"""The durable store: audit log, idempotent request results and once-only tool effects.

SQLAlchemy 2 async over SQLite (default, ``<data_dir>/switchboard.db``) or PostgreSQL
(``DATABASE_URL``), with Alembic migrations shipped in ``migrations/``::

    settings = StoreSettings()
    store = await Store.open(settings, url=settings.url(data_dir))  # connects, migrates
    await store.audit.record(AuditEvent(kind=AuditKind.ROUTE_DECISION, request_id="r1"))
    claim = await store.idempotency.claim("tenant", "r1")
    await store.close()

Every failure raises :class:`StoreError`.
"""

from switchboard.store.audit import AuditEvent, AuditKind, AuditLog, AuditRecord
from switchboard.store.audit_spool import AuditSpool
from switchboard.store.audit_writer import AuditWriter
from switchboard.store.conversations import (
    ConversationListing,
    Conversations,
    StoredConversation,
    StoredTurn,
)
from switchboard.store.database import Store, create_engine
from switchboard.store.effects import EffectResult, ToolEffects
from switchboard.store.errors import EffectMismatch, EffectPending, StoreError
from switchboard.store.examples import (
    Candidate,
    CandidateSource,
    CandidateStatus,
    ExampleCandidates,
)
from switchboard.store.feedback import DailyRate, Feedback, FeedbackLog, KnowledgeGap, KnowledgeGaps
from switchboard.store.idempotency import Claim, ClaimOutcome, IdempotencyStore, StoredResult
from switchboard.store.migrate import current_revision, head_revision, migrate
from switchboard.store.prompt_types import LabelMove, PromptLabel, PromptVersion, version_ref
from switchboard.store.prompts import LabelMoved, PromptRegistry
from switchboard.store.review import ItemKind, ItemState, NewItem, ReviewItem, ReviewItems
from switchboard.store.sessions import SessionState, SessionStates
from switchboard.store.settings import StoreSettings, normalise_url
from switchboard.store.working_memory import WorkingMemories
from switchboard.store.working_types import ScratchPad

__all__ = [
    "AuditEvent",
    "AuditKind",
    "AuditLog",
    "AuditRecord",
    "AuditSpool",
    "AuditWriter",
    "Candidate",
    "CandidateSource",
    "CandidateStatus",
    "Claim",
    "ClaimOutcome",
    "ConversationListing",
    "Conversations",
    "DailyRate",
    "EffectMismatch",
    "EffectPending",
    "EffectResult",
    "ExampleCandidates",
    "Feedback",
    "FeedbackLog",
    "IdempotencyStore",
    "ItemKind",
    "ItemState",
    "KnowledgeGap",
    "KnowledgeGaps",
    "LabelMove",
    "LabelMoved",
    "NewItem",
    "PromptLabel",
    "PromptRegistry",
    "PromptVersion",
    "ReviewItem",
    "ReviewItems",
    "ScratchPad",
    "SessionState",
    "SessionStates",
    "Store",
    "StoreError",
    "StoreSettings",
    "StoredConversation",
    "StoredResult",
    "StoredTurn",
    "ToolEffects",
    "WorkingMemories",
    "create_engine",
    "current_revision",
    "head_revision",
    "migrate",
    "normalise_url",
    "version_ref",
]
