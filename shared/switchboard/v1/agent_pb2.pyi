from switchboard.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Screening(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCREENING_UNSPECIFIED: _ClassVar[Screening]
    SCREENING_CLEAN: _ClassVar[Screening]
    SCREENING_SUSPICIOUS: _ClassVar[Screening]
SCREENING_UNSPECIFIED: Screening
SCREENING_CLEAN: Screening
SCREENING_SUSPICIOUS: Screening

class InvokeRequest(_message.Message):
    __slots__ = ("request_id", "session_id", "text", "metadata", "query_embedding", "confirm_action", "tenant", "customer_id", "user_id", "screening", "approval", "conversation", "handoff", "recalled_memories")
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
    QUERY_EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_ACTION_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SCREENING_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    HANDOFF_FIELD_NUMBER: _ClassVar[int]
    RECALLED_MEMORIES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    session_id: str
    text: str
    metadata: _containers.ScalarMap[str, str]
    query_embedding: _containers.RepeatedScalarFieldContainer[float]
    confirm_action: str
    tenant: str
    customer_id: str
    user_id: str
    screening: Screening
    approval: Approval
    conversation: ConversationWindow
    handoff: HandoffBrief
    recalled_memories: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., session_id: _Optional[str] = ..., text: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., query_embedding: _Optional[_Iterable[float]] = ..., confirm_action: _Optional[str] = ..., tenant: _Optional[str] = ..., customer_id: _Optional[str] = ..., user_id: _Optional[str] = ..., screening: _Optional[_Union[Screening, str]] = ..., approval: _Optional[_Union[Approval, _Mapping]] = ..., conversation: _Optional[_Union[ConversationWindow, _Mapping]] = ..., handoff: _Optional[_Union[HandoffBrief, _Mapping]] = ..., recalled_memories: _Optional[_Iterable[str]] = ...) -> None: ...

class ConversationTurn(_message.Message):
    __slots__ = ("user", "answer", "agent", "sources")
    USER_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    user: str
    answer: str
    agent: str
    sources: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user: _Optional[str] = ..., answer: _Optional[str] = ..., agent: _Optional[str] = ..., sources: _Optional[_Iterable[str]] = ...) -> None: ...

class ConversationWindow(_message.Message):
    __slots__ = ("summary", "turns", "turns_total")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    TURNS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    summary: str
    turns: _containers.RepeatedCompositeFieldContainer[ConversationTurn]
    turns_total: int
    def __init__(self, summary: _Optional[str] = ..., turns: _Optional[_Iterable[_Union[ConversationTurn, _Mapping]]] = ..., turns_total: _Optional[int] = ...) -> None: ...

class HandoffBrief(_message.Message):
    __slots__ = ("from_agent", "customer_wants", "facts", "pending_actions", "turns")
    FROM_AGENT_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_WANTS_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    PENDING_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    from_agent: str
    customer_wants: str
    facts: _containers.RepeatedScalarFieldContainer[str]
    pending_actions: _containers.RepeatedScalarFieldContainer[str]
    turns: int
    def __init__(self, from_agent: _Optional[str] = ..., customer_wants: _Optional[str] = ..., facts: _Optional[_Iterable[str]] = ..., pending_actions: _Optional[_Iterable[str]] = ..., turns: _Optional[int] = ...) -> None: ...

class Approval(_message.Message):
    __slots__ = ("approved_by", "reason")
    APPROVED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    approved_by: str
    reason: str
    def __init__(self, approved_by: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class InvokeResponse(_message.Message):
    __slots__ = ("answer", "citations", "confidence", "usage", "status", "mode", "agent", "pending_action", "uncited", "withheld_draft", "prompt_version")
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    PENDING_ACTION_FIELD_NUMBER: _ClassVar[int]
    UNCITED_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_DRAFT_FIELD_NUMBER: _ClassVar[int]
    PROMPT_VERSION_FIELD_NUMBER: _ClassVar[int]
    answer: str
    citations: _containers.RepeatedCompositeFieldContainer[_common_pb2.Citation]
    confidence: float
    usage: _common_pb2.Usage
    status: _common_pb2.Status
    mode: str
    agent: str
    pending_action: _common_pb2.PendingAction
    uncited: bool
    withheld_draft: str
    prompt_version: str
    def __init__(self, answer: _Optional[str] = ..., citations: _Optional[_Iterable[_Union[_common_pb2.Citation, _Mapping]]] = ..., confidence: _Optional[float] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., status: _Optional[_Union[_common_pb2.Status, str]] = ..., mode: _Optional[str] = ..., agent: _Optional[str] = ..., pending_action: _Optional[_Union[_common_pb2.PendingAction, _Mapping]] = ..., uncited: _Optional[bool] = ..., withheld_draft: _Optional[str] = ..., prompt_version: _Optional[str] = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InvokeEvent(_message.Message):
    __slots__ = ("sequence", "text", "reset", "citation", "usage", "final")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    CITATION_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    text: InvokeTextEvent
    reset: InvokeResetEvent
    citation: InvokeCitationEvent
    usage: InvokeUsageEvent
    final: InvokeResponse
    def __init__(self, sequence: _Optional[int] = ..., text: _Optional[_Union[InvokeTextEvent, _Mapping]] = ..., reset: _Optional[_Union[InvokeResetEvent, _Mapping]] = ..., citation: _Optional[_Union[InvokeCitationEvent, _Mapping]] = ..., usage: _Optional[_Union[InvokeUsageEvent, _Mapping]] = ..., final: _Optional[_Union[InvokeResponse, _Mapping]] = ...) -> None: ...

class InvokeTextEvent(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class InvokeResetEvent(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class InvokeCitationEvent(_message.Message):
    __slots__ = ("index", "citation")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    CITATION_FIELD_NUMBER: _ClassVar[int]
    index: int
    citation: _common_pb2.Citation
    def __init__(self, index: _Optional[int] = ..., citation: _Optional[_Union[_common_pb2.Citation, _Mapping]] = ...) -> None: ...

class InvokeUsageEvent(_message.Message):
    __slots__ = ("input_tokens", "output_tokens")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ...) -> None: ...
