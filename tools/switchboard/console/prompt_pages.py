"""The console's prompt pages: which version each label serves, per-version feedback, and a
version's full text with its label moves (read only: moves go through ``switchboard
prompts``, where the evaluation gate runs)."""

from __future__ import annotations

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from switchboard.console import views
from switchboard.console.app import console_of, render, session_of, to_login
from switchboard.v1 import review_pb2

router = APIRouter()


@router.get("/prompts", response_class=HTMLResponse)
async def prompts(request: Request, agent: str = "", days: int = 0) -> Response:
    session = session_of(request)
    if session is None:
        return to_login()
    try:
        reply = await console_of(request).call(
            session, "ListPromptVersions", review_pb2.PromptListRequest(agent=agent, days=days)
        )
    except grpc.aio.AioRpcError as exc:
        return render(request, "error.html", session, error=views.problem(exc))
    return render(
        request, "prompts.html", session, versions=reply.versions, labels=reply.labels, days=days
    )


@router.get("/prompts/{agent}/{number}", response_class=HTMLResponse)
async def prompt_version(request: Request, agent: str, number: int) -> Response:
    session = session_of(request)
    if session is None:
        return to_login()
    try:
        reply = await console_of(request).call(
            session, "GetPromptVersion", review_pb2.PromptGetRequest(agent=agent, number=number)
        )
    except grpc.aio.AioRpcError as exc:
        return render(request, "error.html", session, error=views.problem(exc))
    return render(request, "prompt.html", session, v=reply)
