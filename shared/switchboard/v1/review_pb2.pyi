import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from switchboard.v1 import common_pb2 as _common_pb2
from switchboard.v1 import supervisor_pb2 as _supervisor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VerdictLabel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_LABEL_UNSPECIFIED: _ClassVar[VerdictLabel]
    VERDICT_LABEL_CORRECT: _ClassVar[VerdictLabel]
    VERDICT_LABEL_WRONG: _ClassVar[VerdictLabel]
    VERDICT_LABEL_UNHELPFUL: _ClassVar[VerdictLabel]

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_UNSPECIFIED: _ClassVar[Decision]
    DECISION_APPROVE: _ClassVar[Decision]
    DECISION_REJECT: _ClassVar[Decision]
VERDICT_LABEL_UNSPECIFIED: VerdictLabel
VERDICT_LABEL_CORRECT: VerdictLabel
VERDICT_LABEL_WRONG: VerdictLabel
VERDICT_LABEL_UNHELPFUL: VerdictLabel
DECISION_UNSPECIFIED: Decision
DECISION_APPROVE: Decision
DECISION_REJECT: Decision

class ListItemsRequest(_message.Message):
    __slots__ = ("tenant", "agent", "kind", "state", "page_size", "page_token")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    agent: str
    kind: _common_pb2.ReviewKind
    state: _common_pb2.ReviewState
    page_size: int
    page_token: str
    def __init__(self, tenant: _Optional[str] = ..., agent: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.ReviewKind, str]] = ..., state: _Optional[_Union[_common_pb2.ReviewState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListItemsResponse(_message.Message):
    __slots__ = ("items", "next_page_token", "counts")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ReviewItem]
    next_page_token: str
    counts: _containers.RepeatedCompositeFieldContainer[ItemCount]
    def __init__(self, items: _Optional[_Iterable[_Union[ReviewItem, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., counts: _Optional[_Iterable[_Union[ItemCount, _Mapping]]] = ...) -> None: ...

class ItemCount(_message.Message):
    __slots__ = ("kind", "state", "count")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    kind: _common_pb2.ReviewKind
    state: _common_pb2.ReviewState
    count: int
    def __init__(self, kind: _Optional[_Union[_common_pb2.ReviewKind, str]] = ..., state: _Optional[_Union[_common_pb2.ReviewState, str]] = ..., count: _Optional[int] = ...) -> None: ...

class GetItemRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ClaimItemRequest(_message.Message):
    __slots__ = ("id", "lease_seconds")
    ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    lease_seconds: float
    def __init__(self, id: _Optional[str] = ..., lease_seconds: _Optional[float] = ...) -> None: ...

class WrittenAnswer(_message.Message):
    __slots__ = ("text", "agent")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    text: str
    agent: str
    def __init__(self, text: _Optional[str] = ..., agent: _Optional[str] = ...) -> None: ...

class SendToAgent(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: str
    def __init__(self, agent: _Optional[str] = ...) -> None: ...

class CloseItem(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class Verdict(_message.Message):
    __slots__ = ("label", "note")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    label: VerdictLabel
    note: str
    def __init__(self, label: _Optional[_Union[VerdictLabel, str]] = ..., note: _Optional[str] = ...) -> None: ...

class ResolveItemRequest(_message.Message):
    __slots__ = ("id", "answer", "send_to_agent", "close", "verdict", "knowledge_gap")
    ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    SEND_TO_AGENT_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    KNOWLEDGE_GAP_FIELD_NUMBER: _ClassVar[int]
    id: str
    answer: WrittenAnswer
    send_to_agent: SendToAgent
    close: CloseItem
    verdict: Verdict
    knowledge_gap: bool
    def __init__(self, id: _Optional[str] = ..., answer: _Optional[_Union[WrittenAnswer, _Mapping]] = ..., send_to_agent: _Optional[_Union[SendToAgent, _Mapping]] = ..., close: _Optional[_Union[CloseItem, _Mapping]] = ..., verdict: _Optional[_Union[Verdict, _Mapping]] = ..., knowledge_gap: _Optional[bool] = ...) -> None: ...

class DecideActionRequest(_message.Message):
    __slots__ = ("id", "decision", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    decision: Decision
    reason: str
    def __init__(self, id: _Optional[str] = ..., decision: _Optional[_Union[Decision, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class Resolution(_message.Message):
    __slots__ = ("action", "by", "reason", "text", "agent", "verdict", "knowledge_gap")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    KNOWLEDGE_GAP_FIELD_NUMBER: _ClassVar[int]
    action: str
    by: str
    reason: str
    text: str
    agent: str
    verdict: str
    knowledge_gap: bool
    def __init__(self, action: _Optional[str] = ..., by: _Optional[str] = ..., reason: _Optional[str] = ..., text: _Optional[str] = ..., agent: _Optional[str] = ..., verdict: _Optional[str] = ..., knowledge_gap: _Optional[bool] = ...) -> None: ...

class ReviewItem(_message.Message):
    __slots__ = ("id", "tenant", "request_id", "trace_id", "agent", "kind", "reason", "question", "draft", "state", "claimed_by", "created_at", "claimed_at", "claim_until", "resolved_at", "expires_at", "resolution", "result", "customer_id", "withheld_draft")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    DRAFT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_AT_FIELD_NUMBER: _ClassVar[int]
    CLAIM_UNTIL_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_DRAFT_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant: str
    request_id: str
    trace_id: str
    agent: str
    kind: _common_pb2.ReviewKind
    reason: str
    question: str
    draft: _supervisor_pb2.AskResponse
    state: _common_pb2.ReviewState
    claimed_by: str
    created_at: _timestamp_pb2.Timestamp
    claimed_at: _timestamp_pb2.Timestamp
    claim_until: _timestamp_pb2.Timestamp
    resolved_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    resolution: Resolution
    result: _supervisor_pb2.AskResponse
    customer_id: str
    withheld_draft: str
    def __init__(self, id: _Optional[str] = ..., tenant: _Optional[str] = ..., request_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., agent: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.ReviewKind, str]] = ..., reason: _Optional[str] = ..., question: _Optional[str] = ..., draft: _Optional[_Union[_supervisor_pb2.AskResponse, _Mapping]] = ..., state: _Optional[_Union[_common_pb2.ReviewState, str]] = ..., claimed_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., claimed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., claim_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolution: _Optional[_Union[Resolution, _Mapping]] = ..., result: _Optional[_Union[_supervisor_pb2.AskResponse, _Mapping]] = ..., customer_id: _Optional[str] = ..., withheld_draft: _Optional[str] = ...) -> None: ...

class ListKnowledgeGapsRequest(_message.Message):
    __slots__ = ("tenant", "agent", "days")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    agent: str
    days: int
    def __init__(self, tenant: _Optional[str] = ..., agent: _Optional[str] = ..., days: _Optional[int] = ...) -> None: ...

class GapGroup(_message.Message):
    __slots__ = ("agent", "count", "representative", "questions", "answer", "last_seen")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    REPRESENTATIVE_FIELD_NUMBER: _ClassVar[int]
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    agent: str
    count: int
    representative: str
    questions: _containers.RepeatedScalarFieldContainer[str]
    answer: str
    last_seen: _timestamp_pb2.Timestamp
    def __init__(self, agent: _Optional[str] = ..., count: _Optional[int] = ..., representative: _Optional[str] = ..., questions: _Optional[_Iterable[str]] = ..., answer: _Optional[str] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListKnowledgeGapsResponse(_message.Message):
    __slots__ = ("groups",)
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[GapGroup]
    def __init__(self, groups: _Optional[_Iterable[_Union[GapGroup, _Mapping]]] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ("tenant", "days")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    days: int
    def __init__(self, tenant: _Optional[str] = ..., days: _Optional[int] = ...) -> None: ...

class AgentDay(_message.Message):
    __slots__ = ("day", "agent", "feedback", "positive", "calls", "cost_usd")
    DAY_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    day: str
    agent: str
    feedback: int
    positive: int
    calls: int
    cost_usd: float
    def __init__(self, day: _Optional[str] = ..., agent: _Optional[str] = ..., feedback: _Optional[int] = ..., positive: _Optional[int] = ..., calls: _Optional[int] = ..., cost_usd: _Optional[float] = ...) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ("days",)
    DAYS_FIELD_NUMBER: _ClassVar[int]
    days: _containers.RepeatedCompositeFieldContainer[AgentDay]
    def __init__(self, days: _Optional[_Iterable[_Union[AgentDay, _Mapping]]] = ...) -> None: ...

class WhoAmIRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WhoAmIResponse(_message.Message):
    __slots__ = ("tenant", "role", "actor", "all_tenants", "agents")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ALL_TENANTS_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    role: str
    actor: str
    all_tenants: bool
    agents: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant: _Optional[str] = ..., role: _Optional[str] = ..., actor: _Optional[str] = ..., all_tenants: _Optional[bool] = ..., agents: _Optional[_Iterable[str]] = ...) -> None: ...

class PromptListRequest(_message.Message):
    __slots__ = ("agent", "tenant", "days")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    agent: str
    tenant: str
    days: int
    def __init__(self, agent: _Optional[str] = ..., tenant: _Optional[str] = ..., days: _Optional[int] = ...) -> None: ...

class PromptListResponse(_message.Message):
    __slots__ = ("versions", "labels")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[PromptVersionSummary]
    labels: _containers.RepeatedCompositeFieldContainer[PromptLabelInfo]
    def __init__(self, versions: _Optional[_Iterable[_Union[PromptVersionSummary, _Mapping]]] = ..., labels: _Optional[_Iterable[_Union[PromptLabelInfo, _Mapping]]] = ...) -> None: ...

class PromptVersionSummary(_message.Message):
    __slots__ = ("version", "agent", "number", "author", "note", "content_hash", "created_at", "labels", "feedback", "positive", "model")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    version: str
    agent: str
    number: int
    author: str
    note: str
    content_hash: str
    created_at: _timestamp_pb2.Timestamp
    labels: _containers.RepeatedScalarFieldContainer[str]
    feedback: int
    positive: int
    model: str
    def __init__(self, version: _Optional[str] = ..., agent: _Optional[str] = ..., number: _Optional[int] = ..., author: _Optional[str] = ..., note: _Optional[str] = ..., content_hash: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., labels: _Optional[_Iterable[str]] = ..., feedback: _Optional[int] = ..., positive: _Optional[int] = ..., model: _Optional[str] = ...) -> None: ...

class PromptLabelInfo(_message.Message):
    __slots__ = ("agent", "label", "version", "canary_version", "canary_percent", "revision", "updated_by", "updated_at")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CANARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANARY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    agent: str
    label: str
    version: int
    canary_version: int
    canary_percent: int
    revision: int
    updated_by: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, agent: _Optional[str] = ..., label: _Optional[str] = ..., version: _Optional[int] = ..., canary_version: _Optional[int] = ..., canary_percent: _Optional[int] = ..., revision: _Optional[int] = ..., updated_by: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PromptGetRequest(_message.Message):
    __slots__ = ("agent", "number")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    agent: str
    number: int
    def __init__(self, agent: _Optional[str] = ..., number: _Optional[int] = ...) -> None: ...

class PromptVersionDetail(_message.Message):
    __slots__ = ("summary", "system_prompt", "rules", "params_json", "moves")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPT_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    MOVES_FIELD_NUMBER: _ClassVar[int]
    summary: PromptVersionSummary
    system_prompt: str
    rules: str
    params_json: str
    moves: _containers.RepeatedCompositeFieldContainer[PromptLabelMove]
    def __init__(self, summary: _Optional[_Union[PromptVersionSummary, _Mapping]] = ..., system_prompt: _Optional[str] = ..., rules: _Optional[str] = ..., params_json: _Optional[str] = ..., moves: _Optional[_Iterable[_Union[PromptLabelMove, _Mapping]]] = ...) -> None: ...

class PromptLabelMove(_message.Message):
    __slots__ = ("label", "action", "from_version", "to_version", "canary_version", "canary_percent", "actor", "reason", "at")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANARY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    label: str
    action: str
    from_version: int
    to_version: int
    canary_version: int
    canary_percent: int
    actor: str
    reason: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, label: _Optional[str] = ..., action: _Optional[str] = ..., from_version: _Optional[int] = ..., to_version: _Optional[int] = ..., canary_version: _Optional[int] = ..., canary_percent: _Optional[int] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
