from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATUS_UNSPECIFIED: _ClassVar[Status]
    ANSWERED: _ClassVar[Status]
    NEEDS_CLARIFICATION: _ClassVar[Status]
    ESCALATED: _ClassVar[Status]
    DEGRADED: _ClassVar[Status]
    REFUSED: _ClassVar[Status]
    NEEDS_CONFIRMATION: _ClassVar[Status]
    CLOSED: _ClassVar[Status]

class ReviewKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_KIND_UNSPECIFIED: _ClassVar[ReviewKind]
    REVIEW_KIND_ESCALATION: _ClassVar[ReviewKind]
    REVIEW_KIND_APPROVAL: _ClassVar[ReviewKind]
    REVIEW_KIND_SAMPLE: _ClassVar[ReviewKind]

class ReviewState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_STATE_UNSPECIFIED: _ClassVar[ReviewState]
    REVIEW_STATE_OPEN: _ClassVar[ReviewState]
    REVIEW_STATE_RESOLVED: _ClassVar[ReviewState]
    REVIEW_STATE_CLOSED: _ClassVar[ReviewState]
    REVIEW_STATE_EXPIRED: _ClassVar[ReviewState]
STATUS_UNSPECIFIED: Status
ANSWERED: Status
NEEDS_CLARIFICATION: Status
ESCALATED: Status
DEGRADED: Status
REFUSED: Status
NEEDS_CONFIRMATION: Status
CLOSED: Status
REVIEW_KIND_UNSPECIFIED: ReviewKind
REVIEW_KIND_ESCALATION: ReviewKind
REVIEW_KIND_APPROVAL: ReviewKind
REVIEW_KIND_SAMPLE: ReviewKind
REVIEW_STATE_UNSPECIFIED: ReviewState
REVIEW_STATE_OPEN: ReviewState
REVIEW_STATE_RESOLVED: ReviewState
REVIEW_STATE_CLOSED: ReviewState
REVIEW_STATE_EXPIRED: ReviewState

class PendingAction(_message.Message):
    __slots__ = ("id", "tool", "summary", "arguments_json", "approval")
    ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_JSON_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    id: str
    tool: str
    summary: str
    arguments_json: str
    approval: str
    def __init__(self, id: _Optional[str] = ..., tool: _Optional[str] = ..., summary: _Optional[str] = ..., arguments_json: _Optional[str] = ..., approval: _Optional[str] = ...) -> None: ...

class Citation(_message.Message):
    __slots__ = ("source_id", "title", "snippet", "score")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SNIPPET_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    title: str
    snippet: str
    score: float
    def __init__(self, source_id: _Optional[str] = ..., title: _Optional[str] = ..., snippet: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class AgentUsage(_message.Message):
    __slots__ = ("agent", "model", "input_tokens", "output_tokens", "cost_usd")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    agent: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    def __init__(self, agent: _Optional[str] = ..., model: _Optional[str] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "cost_usd", "breakdown")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    cost_usd: float
    breakdown: _containers.RepeatedCompositeFieldContainer[AgentUsage]
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., breakdown: _Optional[_Iterable[_Union[AgentUsage, _Mapping]]] = ...) -> None: ...

class AgentCard(_message.Message):
    __slots__ = ("name", "description", "examples", "topics", "keywords")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    KEYWORDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    examples: _containers.RepeatedScalarFieldContainer[str]
    topics: _containers.RepeatedScalarFieldContainer[str]
    keywords: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., examples: _Optional[_Iterable[str]] = ..., topics: _Optional[_Iterable[str]] = ..., keywords: _Optional[_Iterable[str]] = ...) -> None: ...
