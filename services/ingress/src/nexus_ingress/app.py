"""The HTTP face of the ingress (FastAPI): routes, authentication, body limits, the OpenAPI spec.

    POST /signals                 the mesh's own signal JSON                       202 | 4xx | 503
    POST /webhooks/tradingview    a TradingView alert                               202 | 4xx | 503
    GET  /signals/{signal_id}     the signal and its execution (the caller's own)   200 | 401 | 404
    GET  /health                  200 while Redis answers and the bridge runs, else 503 (no token)
    GET  /openapi.json            the spec

A request authenticates with `Authorization: Bearer <token>`; a TradingView alert, which cannot
set headers, may carry the token in its `token` field instead. The body is read by hand (bounded
by NX_INGRESS_MAX_BODY_BYTES) so a bad one gets a problem document naming the field, and so the
token in a TradingView body is checked before anything else in it. The spec's request bodies are
the payload models' JSON Schema. Redis work runs in a bounded thread pool, off the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import anyio
import redis
from anyio import to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from nexus_ingress import answers
from nexus_ingress.answers import Accepted, Answer, Problem, SignalView
from nexus_ingress.payloads import KEY_PATTERN, FieldProblem, SignalRequest, TradingViewAlert
from nexus_ingress.service import KEY_HEADER, SIGNAL, TRADINGVIEW, Ingress
from nexus_ingress.sources import Sources

_bearer = HTTPBearer(auto_error=False, description="the source's token (NX_INGRESS_TOKENS)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
_UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="nexus-ingress"'}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    what = {
        400: "the body is not a JSON object",
        401: "no token, or not a known source's",
        404: "no such signal from this source",
        413: "the body is too large",
        422: "a field is invalid (each one named in `errors`), or the key was used for another request",
        429: "the source's rate limit: retry after `Retry-After` seconds",
        503: "Redis or the bridge service is not available: nothing was accepted",
    }
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {
        c: {"model": Problem, "description": what[c], "content": {answers.PROBLEM_JSON: problem}}
        for c in codes
    }


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema(mode="validation")}},
        },
        "parameters": [
            {
                "name": KEY_HEADER,
                "in": "header",
                "required": False,
                "description": "the caller's idempotency key: the same key twice executes once",
                "schema": {"type": "string", "pattern": KEY_PATTERN, "maxLength": 255},
            }
        ],
    }


def respond(answer: Answer) -> JSONResponse:
    return JSONResponse(
        answer.body, status_code=answer.status, headers=answer.headers, media_type=answer.media_type
    )


def _unauthorized(detail: str) -> JSONResponse:
    return respond(answers.problem(401, "Unauthorized", detail, headers=_UNAUTHORIZED))


class _BodyError(Exception):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer


async def _read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BodyError(answers.problem(413, "Body too large", f"the body is over {limit} bytes"))
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise _BodyError(answers.problem(413, "Body too large", f"the body is over {limit} bytes"))
    try:
        return json.loads(bytes(data), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        problem = FieldProblem("(body)", f"not valid JSON: {exc}")
        raise _BodyError(answers.problem(400, "Not JSON", str(exc), [problem])) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def create_app(ingress: Ingress, sources: Sources, *, workers: int = 16) -> FastAPI:
    app = FastAPI(
        title="NEXUS mesh ingress",
        version="1",
        description="Signals over HTTP into the NEXUS mesh's bridge intake. See docs/ingress.md.",
        docs_url=None,
        redoc_url=None,
    )
    limiter = anyio.CapacityLimiter(workers)
    limit = ingress.settings.ingress_max_body_bytes

    async def work(fn: Callable[..., Answer], *args: Any) -> JSONResponse:
        try:
            answer = await to_thread.run_sync(fn, *args, limiter=limiter)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            answer = answers.problem(
                503, "Redis unavailable", f"{exc}: nothing was accepted", headers={"Retry-After": "1"}
            )
        return respond(answer)

    async def post(kind: str, request: Request, creds: HTTPAuthorizationCredentials | None) -> JSONResponse:
        source = sources.source_of(creds.credentials) if creds is not None else None
        if creds is not None and source is None:
            return _unauthorized("the bearer token is not a known source's")
        try:
            body = await _read_json(request, limit)
        except _BodyError as exc:
            return respond(exc.answer) if source is not None else _unauthorized("no bearer token")
        if source is None:
            token = body.get("token") if kind == TRADINGVIEW and isinstance(body, dict) else None
            source = sources.source_of(token) if isinstance(token, str) else None
            if source is None:
                return _unauthorized("no bearer token, or not a known source's")
        return await work(ingress.accept, kind, source, body, request.headers.get(KEY_HEADER))

    @app.post(
        "/signals",
        status_code=202,
        response_model=Accepted,
        responses=_problems(400, 401, 413, 422, 429, 503),
        openapi_extra=_body(SignalRequest),
        summary="Send a signal in the mesh's own terms",
    )
    async def post_signal(request: Request, creds: Credentials) -> JSONResponse:
        return await post(SIGNAL, request, creds)

    @app.post(
        "/webhooks/tradingview",
        status_code=202,
        response_model=Accepted,
        responses=_problems(400, 401, 413, 422, 429, 503),
        openapi_extra=_body(TradingViewAlert),
        summary="Send a TradingView alert (the token may be in the body's `token` field)",
    )
    async def post_tradingview(request: Request, creds: Credentials) -> JSONResponse:
        return await post(TRADINGVIEW, request, creds)

    @app.get(
        "/signals/{signal_id}",
        response_model=SignalView,
        responses=_problems(401, 404, 503),
        summary="A signal sent here and its execution so far",
    )
    async def get_signal(signal_id: str, creds: Credentials) -> JSONResponse:
        source = sources.source_of(creds.credentials) if creds is not None else None
        if source is None:
            return _unauthorized("no bearer token, or not a known source's")
        return await work(ingress.signal, source, signal_id)

    @app.get("/health", responses=_problems(503), summary="Redis answers and the bridge runs")
    async def health() -> JSONResponse:
        return await work(ingress.health)

    return app
