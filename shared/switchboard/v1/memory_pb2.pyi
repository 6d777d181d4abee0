import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListMemoriesRequest(_message.Message):
    __slots__ = ("user_id", "tenant", "max_turns")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    MAX_TURNS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    tenant: str
    max_turns: int
    def __init__(self, user_id: _Optional[str] = ..., tenant: _Optional[str] = ..., max_turns: _Optional[int] = ...) -> None: ...

class MemoryTurn(_message.Message):
    __slots__ = ("seq", "user", "answer", "agent", "status", "created_at", "request_id")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    seq: int
    user: str
    answer: str
    agent: str
    status: str
    created_at: _timestamp_pb2.Timestamp
    request_id: str
    def __init__(self, seq: _Optional[int] = ..., user: _Optional[str] = ..., answer: _Optional[str] = ..., agent: _Optional[str] = ..., status: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class MemorySession(_message.Message):
    __slots__ = ("session_id", "turns", "summary", "updated_at", "expires_at", "recent")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    RECENT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    turns: int
    summary: str
    updated_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    recent: _containers.RepeatedCompositeFieldContainer[MemoryTurn]
    def __init__(self, session_id: _Optional[str] = ..., turns: _Optional[int] = ..., summary: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recent: _Optional[_Iterable[_Union[MemoryTurn, _Mapping]]] = ...) -> None: ...

class MemoryFact(_message.Message):
    __slots__ = ("text", "source_session", "source_request", "created_at", "expires_at")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_SESSION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    text: str
    source_session: str
    source_request: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, text: _Optional[str] = ..., source_session: _Optional[str] = ..., source_request: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListMemoriesResponse(_message.Message):
    __slots__ = ("sessions", "facts")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[MemorySession]
    facts: _containers.RepeatedCompositeFieldContainer[MemoryFact]
    def __init__(self, sessions: _Optional[_Iterable[_Union[MemorySession, _Mapping]]] = ..., facts: _Optional[_Iterable[_Union[MemoryFact, _Mapping]]] = ...) -> None: ...

class ForgetSessionRequest(_message.Message):
    __slots__ = ("session_id", "tenant")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    tenant: str
    def __init__(self, session_id: _Optional[str] = ..., tenant: _Optional[str] = ...) -> None: ...

class ForgetUserRequest(_message.Message):
    __slots__ = ("user_id", "tenant")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    tenant: str
    def __init__(self, user_id: _Optional[str] = ..., tenant: _Optional[str] = ...) -> None: ...

class ForgetResponse(_message.Message):
    __slots__ = ("rows_deleted", "sessions")
    ROWS_DELETED_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    rows_deleted: int
    sessions: int
    def __init__(self, rows_deleted: _Optional[int] = ..., sessions: _Optional[int] = ...) -> None: ...
