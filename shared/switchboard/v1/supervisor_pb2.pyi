import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from switchboard.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Thumb(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    THUMB_UNSPECIFIED: _ClassVar[Thumb]
    THUMB_UP: _ClassVar[Thumb]
    THUMB_DOWN: _ClassVar[Thumb]
THUMB_UNSPECIFIED: Thumb
THUMB_UP: Thumb
THUMB_DOWN: Thumb

class GetResultRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class FeedbackRequest(_message.Message):
    __slots__ = ("request_id", "thumb", "score", "comment")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    THUMB_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    thumb: Thumb
    score: int
    comment: str
    def __init__(self, request_id: _Optional[str] = ..., thumb: _Optional[_Union[Thumb, str]] = ..., score: _Optional[int] = ..., comment: _Optional[str] = ...) -> None: ...

class FeedbackResponse(_message.Message):
    __slots__ = ("request_id", "replaced", "agent", "status")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REPLACED_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    replaced: bool
    agent: str
    status: _common_pb2.Status
    def __init__(self, request_id: _Optional[str] = ..., replaced: _Optional[bool] = ..., agent: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.Status, str]] = ...) -> None: ...

class AnsweredBy(_message.Message):
    __slots__ = ("kind", "name")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ReviewStatus(_message.Message):
    __slots__ = ("item_id", "kind", "state", "reason", "decided_by", "note", "expires_at")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    kind: _common_pb2.ReviewKind
    state: _common_pb2.ReviewState
    reason: str
    decided_by: str
    note: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, item_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.ReviewKind, str]] = ..., state: _Optional[_Union[_common_pb2.ReviewState, str]] = ..., reason: _Optional[str] = ..., decided_by: _Optional[str] = ..., note: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AskRequest(_message.Message):
    __slots__ = ("request_id", "session_id", "text", "metadata", "agent", "confirm_action")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_ACTION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    session_id: str
    text: str
    metadata: _containers.ScalarMap[str, str]
    agent: str
    confirm_action: str
    def __init__(self, request_id: _Optional[str] = ..., session_id: _Optional[str] = ..., text: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., agent: _Optional[str] = ..., confirm_action: _Optional[str] = ...) -> None: ...

class AskResponse(_message.Message):
    __slots__ = ("request_id", "answer", "agent", "citations", "confidence", "usage", "trace_id", "status", "candidates", "mode", "route", "parts", "pending_action", "uncited", "answered_by", "review", "prompt_version", "conversation")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    PENDING_ACTION_FIELD_NUMBER: _ClassVar[int]
    UNCITED_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_BY_FIELD_NUMBER: _ClassVar[int]
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    PROMPT_VERSION_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    answer: str
    agent: str
    citations: _containers.RepeatedCompositeFieldContainer[_common_pb2.Citation]
    confidence: float
    usage: _common_pb2.Usage
    trace_id: str
    status: _common_pb2.Status
    candidates: _containers.RepeatedCompositeFieldContainer[RouteCandidate]
    mode: str
    route: RouteDecision
    parts: _containers.RepeatedCompositeFieldContainer[AnswerPart]
    pending_action: _common_pb2.PendingAction
    uncited: bool
    answered_by: AnsweredBy
    review: ReviewStatus
    prompt_version: str
    conversation: ConversationState
    def __init__(self, request_id: _Optional[str] = ..., answer: _Optional[str] = ..., agent: _Optional[str] = ..., citations: _Optional[_Iterable[_Union[_common_pb2.Citation, _Mapping]]] = ..., confidence: _Optional[float] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., trace_id: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.Status, str]] = ..., candidates: _Optional[_Iterable[_Union[RouteCandidate, _Mapping]]] = ..., mode: _Optional[str] = ..., route: _Optional[_Union[RouteDecision, _Mapping]] = ..., parts: _Optional[_Iterable[_Union[AnswerPart, _Mapping]]] = ..., pending_action: _Optional[_Union[_common_pb2.PendingAction, _Mapping]] = ..., uncited: _Optional[bool] = ..., answered_by: _Optional[_Union[AnsweredBy, _Mapping]] = ..., review: _Optional[_Union[ReviewStatus, _Mapping]] = ..., prompt_version: _Optional[str] = ..., conversation: _Optional[_Union[ConversationState, _Mapping]] = ...) -> None: ...

class ConversationState(_message.Message):
    __slots__ = ("state", "turns", "note")
    STATE_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    state: str
    turns: int
    note: str
    def __init__(self, state: _Optional[str] = ..., turns: _Optional[int] = ..., note: _Optional[str] = ...) -> None: ...

class AnswerPart(_message.Message):
    __slots__ = ("text", "agent", "answer", "status", "citations", "confidence", "mode", "uncited", "prompt_version")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    UNCITED_FIELD_NUMBER: _ClassVar[int]
    PROMPT_VERSION_FIELD_NUMBER: _ClassVar[int]
    text: str
    agent: str
    answer: str
    status: _common_pb2.Status
    citations: _containers.RepeatedCompositeFieldContainer[_common_pb2.Citation]
    confidence: float
    mode: str
    uncited: bool
    prompt_version: str
    def __init__(self, text: _Optional[str] = ..., agent: _Optional[str] = ..., answer: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.Status, str]] = ..., citations: _Optional[_Iterable[_Union[_common_pb2.Citation, _Mapping]]] = ..., confidence: _Optional[float] = ..., mode: _Optional[str] = ..., uncited: _Optional[bool] = ..., prompt_version: _Optional[str] = ...) -> None: ...

class RouteRequest(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class RouteCandidate(_message.Message):
    __slots__ = ("agent", "score")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    agent: str
    score: float
    def __init__(self, agent: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class RouteDecision(_message.Message):
    __slots__ = ("agent", "confidence", "method", "candidates", "reason", "blocked", "block_reason", "parts")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    BLOCK_REASON_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    agent: str
    confidence: float
    method: str
    candidates: _containers.RepeatedCompositeFieldContainer[RouteCandidate]
    reason: str
    blocked: bool
    block_reason: str
    parts: _containers.RepeatedCompositeFieldContainer[SubRoute]
    def __init__(self, agent: _Optional[str] = ..., confidence: _Optional[float] = ..., method: _Optional[str] = ..., candidates: _Optional[_Iterable[_Union[RouteCandidate, _Mapping]]] = ..., reason: _Optional[str] = ..., blocked: _Optional[bool] = ..., block_reason: _Optional[str] = ..., parts: _Optional[_Iterable[_Union[SubRoute, _Mapping]]] = ...) -> None: ...

class SubRoute(_message.Message):
    __slots__ = ("text", "agent", "confidence")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    text: str
    agent: str
    confidence: float
    def __init__(self, text: _Optional[str] = ..., agent: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents",)
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[AgentInfo]
    def __init__(self, agents: _Optional[_Iterable[_Union[AgentInfo, _Mapping]]] = ...) -> None: ...

class AgentInfo(_message.Message):
    __slots__ = ("card", "address", "card_source")
    CARD_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CARD_SOURCE_FIELD_NUMBER: _ClassVar[int]
    card: _common_pb2.AgentCard
    address: str
    card_source: str
    def __init__(self, card: _Optional[_Union[_common_pb2.AgentCard, _Mapping]] = ..., address: _Optional[str] = ..., card_source: _Optional[str] = ...) -> None: ...

class ResumeStreamRequest(_message.Message):
    __slots__ = ("request_id", "after_sequence")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    after_sequence: int
    def __init__(self, request_id: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class AskEvent(_message.Message):
    __slots__ = ("sequence", "route", "agent_started", "text", "reset", "citation", "usage", "pending_action", "partial", "final")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    AGENT_STARTED_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    CITATION_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    PENDING_ACTION_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    route: RouteDecision
    agent_started: AgentStartedEvent
    text: TextDeltaEvent
    reset: ResetEvent
    citation: CitationEvent
    usage: UsageEvent
    pending_action: PendingActionEvent
    partial: PartialEvent
    final: AskResponse
    def __init__(self, sequence: _Optional[int] = ..., route: _Optional[_Union[RouteDecision, _Mapping]] = ..., agent_started: _Optional[_Union[AgentStartedEvent, _Mapping]] = ..., text: _Optional[_Union[TextDeltaEvent, _Mapping]] = ..., reset: _Optional[_Union[ResetEvent, _Mapping]] = ..., citation: _Optional[_Union[CitationEvent, _Mapping]] = ..., usage: _Optional[_Union[UsageEvent, _Mapping]] = ..., pending_action: _Optional[_Union[PendingActionEvent, _Mapping]] = ..., partial: _Optional[_Union[PartialEvent, _Mapping]] = ..., final: _Optional[_Union[AskResponse, _Mapping]] = ...) -> None: ...

class AgentStartedEvent(_message.Message):
    __slots__ = ("agent", "part", "part_text")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    PART_TEXT_FIELD_NUMBER: _ClassVar[int]
    agent: str
    part: int
    part_text: str
    def __init__(self, agent: _Optional[str] = ..., part: _Optional[int] = ..., part_text: _Optional[str] = ...) -> None: ...

class TextDeltaEvent(_message.Message):
    __slots__ = ("agent", "part", "text")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    agent: str
    part: int
    text: str
    def __init__(self, agent: _Optional[str] = ..., part: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class ResetEvent(_message.Message):
    __slots__ = ("agent", "part", "reason")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    agent: str
    part: int
    reason: str
    def __init__(self, agent: _Optional[str] = ..., part: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class CitationEvent(_message.Message):
    __slots__ = ("agent", "part", "index", "citation")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    CITATION_FIELD_NUMBER: _ClassVar[int]
    agent: str
    part: int
    index: int
    citation: _common_pb2.Citation
    def __init__(self, agent: _Optional[str] = ..., part: _Optional[int] = ..., index: _Optional[int] = ..., citation: _Optional[_Union[_common_pb2.Citation, _Mapping]] = ...) -> None: ...

class UsageEvent(_message.Message):
    __slots__ = ("usage",)
    USAGE_FIELD_NUMBER: _ClassVar[int]
    usage: _common_pb2.Usage
    def __init__(self, usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ...) -> None: ...

class PendingActionEvent(_message.Message):
    __slots__ = ("agent", "part", "action")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    agent: str
    part: int
    action: _common_pb2.PendingAction
    def __init__(self, agent: _Optional[str] = ..., part: _Optional[int] = ..., action: _Optional[_Union[_common_pb2.PendingAction, _Mapping]] = ...) -> None: ...

class PartialEvent(_message.Message):
    __slots__ = ("reason", "answer", "usage")
    REASON_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    reason: str
    answer: str
    usage: _common_pb2.Usage
    def __init__(self, reason: _Optional[str] = ..., answer: _Optional[str] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ...) -> None: ...
