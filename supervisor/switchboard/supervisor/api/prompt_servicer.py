"""The Review service's prompt pages: versions, labels and feedback per version (read only).

Moving labels stays with ``switchboard prompts`` (the evaluation gate runs there); people
in the console see which version serves which label and how its answers were rated.
Feedback is scoped like the rest of the Review service: a reviewer sees its tenant's.
"""

from __future__ import annotations

import json
from typing import Any

import grpc

from switchboard.core import errors
from switchboard.core.auth import ANONYMOUS, current_principal
from switchboard.core.grpc_errors import grpc_method
from switchboard.store import PromptLabel, PromptRegistry, PromptVersion
from switchboard.store.prompt_types import check_agent
from switchboard.store.prompts import VersionFeedback
from switchboard.supervisor.api.convert import timestamp
from switchboard.supervisor.review.desk import ReviewDesk
from switchboard.v1 import review_pb2

Context = grpc.aio.ServicerContext[Any, Any]


def _labels_of(version: PromptVersion, labels: list[PromptLabel]) -> list[str]:
    names = []
    for lb in labels:
        if lb.agent != version.agent:
            continue
        if lb.version == version.number:
            names.append(lb.label)
        elif lb.canary_version == version.number and lb.canary_percent:
            names.append(f"{lb.label} (canary {lb.canary_percent}%)")
    return names


def summary(
    version: PromptVersion, labels: list[PromptLabel], feedback: dict[str, VersionFeedback]
) -> review_pb2.PromptVersionSummary:
    fb = feedback.get(version.ref, VersionFeedback(0, 0))
    return review_pb2.PromptVersionSummary(
        version=version.ref,
        agent=version.agent,
        number=version.number,
        author=version.author,
        note=version.note,
        content_hash=version.content_hash,
        created_at=timestamp(version.created_at),
        labels=_labels_of(version, labels),
        feedback=fb.count,
        positive=fb.positive,
        model=version.model,
    )


def label_info(lb: PromptLabel) -> review_pb2.PromptLabelInfo:
    return review_pb2.PromptLabelInfo(
        agent=lb.agent,
        label=lb.label,
        version=lb.version,
        canary_version=lb.canary_version or 0,
        canary_percent=lb.canary_percent,
        revision=lb.revision,
        updated_by=lb.updated_by,
        updated_at=timestamp(lb.updated_at),
    )


class PromptPages:
    """``ListPromptVersions`` and ``GetPromptVersion``; mixed into the Review servicer."""

    _desk: ReviewDesk
    _prompts: PromptRegistry

    @grpc_method
    async def ListPromptVersions(  # noqa: N802 - gRPC method name
        self, request: review_pb2.PromptListRequest, context: Context
    ) -> review_pb2.PromptListResponse:
        tenant = self._desk.scope(current_principal() or ANONYMOUS, request.tenant)
        if not 0 <= request.days <= 365:
            raise errors.InvalidRequest("days must be between 0 and 365")
        agents = [check_agent(request.agent)] if request.agent else await self._prompts.agents()
        versions: list[review_pb2.PromptVersionSummary] = []
        labels: list[PromptLabel] = []
        for agent in agents:
            found = await self._prompts.versions(agent)
            if not found and request.agent:
                raise errors.NotFound(f"agent {agent!r} has no prompt versions")
            mine = await self._prompts.labels(agent)
            feedback = await self._prompts.feedback(agent, days=request.days or None, tenant=tenant)
            versions += [summary(v, mine, feedback) for v in reversed(found)]
            labels += mine
        return review_pb2.PromptListResponse(
            versions=versions, labels=[label_info(lb) for lb in labels]
        )

    @grpc_method
    async def GetPromptVersion(  # noqa: N802 - gRPC method name
        self, request: review_pb2.PromptGetRequest, context: Context
    ) -> review_pb2.PromptVersionDetail:
        tenant = self._desk.scope(current_principal() or ANONYMOUS, "")
        agent = check_agent(request.agent)
        if request.number < 1:
            raise errors.InvalidRequest("name the version number (1 or more)")
        version = await self._prompts.get(agent, request.number)
        labels = await self._prompts.labels(agent)
        feedback = await self._prompts.feedback(agent, tenant=tenant)
        moves = [
            m
            for m in await self._prompts.history(agent, limit=200)
            if version.number in (m.from_version, m.to_version, m.canary_version)
        ]
        return review_pb2.PromptVersionDetail(
            summary=summary(version, labels, feedback),
            system_prompt=version.system_prompt,
            rules=version.rules,
            params_json=json.dumps(version.params, sort_keys=True),
            moves=[
                review_pb2.PromptLabelMove(
                    label=m.label,
                    action=m.action,
                    from_version=m.from_version or 0,
                    to_version=m.to_version,
                    canary_version=m.canary_version or 0,
                    canary_percent=m.canary_percent,
                    actor=m.actor,
                    reason=m.reason,
                    at=timestamp(m.created_at),
                )
                for m in moves
            ],
        )
