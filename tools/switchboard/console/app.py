"""The reviewer console: server-rendered pages over the supervisor's Review service.

A person signs in with a reviewer (or admin) token; the console keeps it server-side under
a random session id (an HttpOnly, SameSite=Strict cookie) and presents it on every gRPC call,
so the Review service (not the console) decides what the person may see and do. There is no
second path to the store. Pages: the inbox (filters, counts, ages against the SLA), an item
(question, draft, passages with scores, route decision, trace link, the decisions), figures
per agent (feedback and cost as SVG bar charts) and the knowledge gaps.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import grpc
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from switchboard.console import health, views
from switchboard.console.settings import ConsoleSettings
from switchboard.v1 import common_pb2, review_pb2, review_pb2_grpc

COOKIE = "sb_console"
TEMPLATES = Path(__file__).parent / "templates"
STATES = {
    "open": common_pb2.REVIEW_STATE_OPEN,
    "resolved": common_pb2.REVIEW_STATE_RESOLVED,
    "closed": common_pb2.REVIEW_STATE_CLOSED,
    "expired": common_pb2.REVIEW_STATE_EXPIRED,
}
KINDS = {
    "escalation": common_pb2.REVIEW_KIND_ESCALATION,
    "approval": common_pb2.REVIEW_KIND_APPROVAL,
    "sample": common_pb2.REVIEW_KIND_SAMPLE,
}
VERDICTS = {
    "correct": review_pb2.VERDICT_LABEL_CORRECT,
    "wrong": review_pb2.VERDICT_LABEL_WRONG,
    "unhelpful": review_pb2.VERDICT_LABEL_UNHELPFUL,
}


@dataclass
class Session:
    token: str
    who: review_pb2.WhoAmIResponse
    started: float = field(default_factory=time.monotonic)


SESSION_TTL_S = 12 * 3600.0  # a sign-in lasts a working day
MAX_SESSIONS = 1000  # the oldest sign-ins go first past this


class Console:
    """The console's state: one channel to the supervisor and the signed-in sessions."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.sessions: dict[str, Session] = {}
        self.channel: grpc.aio.Channel | None = None

    @property
    def stub(self) -> review_pb2_grpc.ReviewStub:
        assert self.channel is not None, "the console is not started"
        return review_pb2_grpc.ReviewStub(self.channel)

    async def call(self, session: Session, method: str, request: Any) -> Any:
        rpc = getattr(self.stub, method)
        return await rpc(
            request,
            metadata=[("authorization", f"Bearer {session.token}")],
            timeout=self.settings.call_timeout_s,
        )


router = APIRouter()


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def session_of(request: Request) -> Session | None:
    sessions = console_of(request).sessions
    sid = request.cookies.get(COOKIE, "")
    session = sessions.get(sid)
    if session is not None and time.monotonic() - session.started > SESSION_TTL_S:
        del sessions[sid]
        return None
    return session


def render(request: Request, name: str, session: Session | None, **values: Any) -> Response:
    pages: Jinja2Templates = request.app.state.pages
    sla_s = console_of(request).settings.sla_s
    return pages.TemplateResponse(
        request, name, {"who": session.who if session else None, "sla_s": sla_s, **values}
    )


def to_login() -> Response:
    return RedirectResponse("/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    return render(request, "login.html", None, error="")


@router.post("/login")
async def login(request: Request, token: Annotated[str, Form()]) -> Response:
    session = Session(token.strip(), review_pb2.WhoAmIResponse())
    try:
        session.who = await console_of(request).call(session, "WhoAmI", review_pb2.WhoAmIRequest())
    except grpc.aio.AioRpcError as exc:
        return render(request, "login.html", None, error=views.problem(exc))
    sid = secrets.token_urlsafe(32)
    sessions = console_of(request).sessions
    while len(sessions) >= MAX_SESSIONS:
        del sessions[next(iter(sessions))]  # the oldest sign-in
    sessions[sid] = session
    reply = RedirectResponse("/", status_code=303)
    reply.set_cookie(COOKIE, sid, httponly=True, samesite="strict")
    return reply


@router.post("/logout")
async def logout(request: Request) -> Response:
    console_of(request).sessions.pop(request.cookies.get(COOKIE, ""), None)
    reply = to_login()
    reply.delete_cookie(COOKIE)
    return reply


@router.get("/", response_class=HTMLResponse)
async def inbox(
    request: Request,
    state: str = "open",
    kind: str = "",
    agent: str = "",
    tenant: str = "",
    page: str = "",
) -> Response:
    session = session_of(request)
    if session is None:
        return to_login()
    query = review_pb2.ListItemsRequest(
        state=STATES.get(state, common_pb2.REVIEW_STATE_UNSPECIFIED),
        kind=KINDS.get(kind, common_pb2.REVIEW_KIND_UNSPECIFIED),
        agent=agent,
        tenant=tenant,
        page_size=50,
        page_token=page,
    )
    try:
        listing = await console_of(request).call(session, "ListItems", query)
    except grpc.aio.AioRpcError as exc:
        return render(request, "error.html", session, error=views.problem(exc))
    return render(
        request,
        "inbox.html",
        session,
        items=listing.items,
        counts=views.counts(listing.counts),
        next_page=listing.next_page_token,
        filters={"state": state, "kind": kind, "agent": agent, "tenant": tenant},
    )


@router.get("/items/{item_id}", response_class=HTMLResponse)
async def item_page(request: Request, item_id: str, note: str = "", error: str = "") -> Response:
    session = session_of(request)
    if session is None:
        return to_login()
    try:
        item = await console_of(request).call(
            session, "GetItem", review_pb2.GetItemRequest(id=item_id)
        )
    except grpc.aio.AioRpcError as exc:
        return render(request, "error.html", session, error=views.problem(exc))
    return render(
        request,
        "item.html",
        session,
        item=item,
        view=views.ItemView.of(item),
        trace_url=views.trace_url(console_of(request).settings.jaeger_url, item.trace_id),
        note=note,
        error=error,
    )


async def act(request: Request, item_id: str, method: str, message: Any, done: str) -> Response:
    session = session_of(request)
    if session is None:
        return to_login()
    try:
        await console_of(request).call(session, method, message)
    except grpc.aio.AioRpcError as exc:
        return RedirectResponse(
            f"/items/{item_id}?error={views.quote(views.problem(exc))}", status_code=303
        )
    return RedirectResponse(f"/items/{item_id}?note={views.quote(done)}", status_code=303)


@router.post("/items/{item_id}/claim")
async def claim(request: Request, item_id: str) -> Response:
    message = review_pb2.ClaimItemRequest(id=item_id)
    return await act(request, item_id, "ClaimItem", message, "Claimed: it is yours for now.")


@router.post("/items/{item_id}/answer")
async def answer(
    request: Request,
    item_id: str,
    text: Annotated[str, Form()] = "",
    agent: Annotated[str, Form()] = "",
    knowledge_gap: Annotated[str, Form()] = "",
) -> Response:
    message = review_pb2.ResolveItemRequest(
        id=item_id,
        answer=review_pb2.WrittenAnswer(text=text, agent=agent),
        knowledge_gap=knowledge_gap == "on",
    )
    return await act(request, item_id, "ResolveItem", message, "Answered: the caller has it.")


@router.post("/items/{item_id}/send")
async def send(request: Request, item_id: str, agent: Annotated[str, Form()] = "") -> Response:
    message = review_pb2.ResolveItemRequest(
        id=item_id, send_to_agent=review_pb2.SendToAgent(agent=agent)
    )
    return await act(request, item_id, "ResolveItem", message, f"Sent to {agent}.")


@router.post("/items/{item_id}/close")
async def close(request: Request, item_id: str, reason: Annotated[str, Form()] = "") -> Response:
    message = review_pb2.ResolveItemRequest(id=item_id, close=review_pb2.CloseItem(reason=reason))
    return await act(request, item_id, "ResolveItem", message, "Closed.")


@router.post("/items/{item_id}/verdict")
async def verdict(
    request: Request,
    item_id: str,
    label: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    message = review_pb2.ResolveItemRequest(
        id=item_id,
        verdict=review_pb2.Verdict(
            label=VERDICTS.get(label, review_pb2.VERDICT_LABEL_UNSPECIFIED), note=note
        ),
    )
    return await act(request, item_id, "ResolveItem", message, "Verdict recorded.")


@router.post("/items/{item_id}/decide")
async def decide(
    request: Request,
    item_id: str,
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    choice = {"approve": review_pb2.DECISION_APPROVE, "reject": review_pb2.DECISION_REJECT}
    message = review_pb2.DecideActionRequest(
        id=item_id,
        decision=choice.get(decision, review_pb2.DECISION_UNSPECIFIED),
        reason=reason,
    )
    done = "Approved: the action ran." if decision == "approve" else "Rejected."
    return await act(request, item_id, "DecideAction", message, done)


@router.get("/stats", response_class=HTMLResponse)
async def stats(request: Request, days: int = 14, tenant: str = "") -> Response:
    session = session_of(request)
    if session is None:
        return to_login()
    try:
        reply = await console_of(request).call(
            session, "GetStats", review_pb2.GetStatsRequest(days=days, tenant=tenant)
        )
    except grpc.aio.AioRpcError as exc:
        return render(request, "error.html", session, error=views.problem(exc))
    return render(request, "stats.html", session, charts=views.charts(reply.days), days=days)


@router.get("/gaps", response_class=HTMLResponse)
async def gaps(request: Request, agent: str = "", days: int = 30) -> Response:
    session = session_of(request)
    if session is None:
        return to_login()
    try:
        reply = await console_of(request).call(
            session,
            "ListKnowledgeGaps",
            review_pb2.ListKnowledgeGapsRequest(agent=agent, days=days),
        )
    except grpc.aio.AioRpcError as exc:
        return render(request, "error.html", session, error=views.problem(exc))
    return render(request, "gaps.html", session, groups=reply.groups, agent=agent, days=days)


def create_app(settings: ConsoleSettings) -> FastAPI:
    """The console app (serve it with uvicorn; ``switchboard console`` does)."""
    console = Console(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        console.channel = grpc.aio.insecure_channel(settings.supervisor)
        try:
            yield
        finally:
            await console.channel.close()

    app = FastAPI(title="Switchboard review console", lifespan=lifespan, docs_url=None)
    app.state.console = console
    app.state.pages = pages = Jinja2Templates(directory=str(TEMPLATES))
    pages.env.filters["age"] = views.age
    pages.env.filters["when"] = views.when
    pages.env.filters["waited"] = views.seconds_since
    app.include_router(router)
    app.include_router(health.router)
    from switchboard.console.prompt_pages import router as prompt_router

    app.include_router(prompt_router)  # versions, labels, feedback per version
    return app
