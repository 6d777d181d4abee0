"""An audit sink that keeps every event, for tests that check what was recorded."""

from __future__ import annotations

from dataclasses import dataclass, field

from switchboard.core.audit import AuditEvent, AuditKind


@dataclass
class AuditRecorder:
    events: list[AuditEvent] = field(default_factory=list)

    def submit(self, event: AuditEvent) -> bool:
        self.events.append(event)
        return True

    def of(self, kind: AuditKind) -> list[AuditEvent]:
        return [e for e in self.events if e.kind == kind]
