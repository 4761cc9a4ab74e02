"""The gateway's HTTP routes: authenticate, check rights and rate, admit, ingest, reply."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import structlog
from aiohttp import web

from adapters.gateway.auth import AuthFailure, authenticate
from adapters.gateway.config import Client, GatewayConfig
from adapters.gateway.intake import Intake
from adapters.gateway.limits import Admission, TokenBucket
from adapters.gateway.openapi import MAX_RECORDS, openapi_document
from adapters.gateway.rights import refusals
from adapters.ingest.record_outcomes import RecordOutcome
from adapters.summary import render_reason
from bus.i18n import N_, _, current_language

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
BUS_DOWN_RETRY_S = 5
OVERLOAD_RETRY_S = 1
_encode = msgspec.json.Encoder().encode
_decode_body = msgspec.json.Decoder(dict[str, object] | list[dict[str, object]]).decode


@dataclass
class GatewayState:
    """State shared by the routes: configuration, intakes, limits and counters."""

    config: GatewayConfig
    intakes: Mapping[tuple[str, str], Intake]
    bus_connected: Callable[[], bool]
    admission: Admission
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)
    """``<client>.<counter>`` → count: rejected records, rate-limited and overloaded requests."""

    def bucket(self, client: Client) -> TokenBucket:
        if client.id not in self.buckets:
            self.buckets[client.id] = TokenBucket(client.rate, client.burst)
        return self.buckets[client.id]


def _answer(status: int, body: object, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=_encode(body),
        content_type="application/json",
        headers=headers,
    )


def _error(
    status: int,
    code: str,
    message: str,
    *,
    retry_after: float | None = None,
    **facts: object,
) -> web.Response:
    headers = None
    if retry_after is not None:
        headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}
    text = _(message).format(**facts) if facts else _(message)
    return _answer(status, {"error": code, "message": text, **facts}, headers)


def build_app(state: GatewayState) -> web.Application:
    """Return the application with its three routes."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    document = _encode(openapi_document())

    async def openapi(_request: web.Request) -> web.Response:
        return web.Response(body=document, content_type="application/json")

    async def health(_request: web.Request) -> web.Response:
        connected = state.bus_connected()
        return _answer(
            200 if connected else 503,
            {
                "bus": "connected" if connected else "disconnected",
                "pending_records": state.admission.pending,
                "max_pending_records": state.admission.limit,
            },
        )

    async def records(request: web.Request) -> web.Response:
        return await _records(state, request)

    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/healthz", health)
    app.router.add_post("/v1/records/{family}", records)
    return app


async def _records(state: GatewayState, request: web.Request) -> web.Response:
    body = await request.read()
    family = request.match_info["family"]

    try:
        client = authenticate(
            state.config.clients,
            request.headers,
            method=request.method,
            path=request.path,
            body=body,
        )
    except AuthFailure as failure:
        state.counters["unauthenticated"] += 1
        log.warning("gateway_auth_rejected", remote=request.remote, reason=failure.reason)
        return _error(401, "unauthenticated", failure.reason)

    profile = client.profiles.get(family)
    intake = state.intakes.get((client.id, family))
    if profile is None or intake is None:
        return _error(
            404,
            "family_not_configured",
            N_("Sender {client} has no profile for family {family}; ask the bus operator."),
            client=client.id,
            family=family,
        )

    try:
        parsed = _decode_body(body)
    except msgspec.DecodeError as exc:
        return _error(
            400,
            "bad_body",
            N_("The body must be a JSON object or a list of objects: {detail}"),
            detail=str(exc),
        )
    batch = parsed if isinstance(parsed, list) else [parsed]
    if not batch:
        return _answer(200, {"results": [], "totals": {}})
    if len(batch) > MAX_RECORDS:
        return _error(
            413,
            "too_many_records",
            N_("A request may carry at most {limit} records; split the batch."),
            limit=MAX_RECORDS,
        )

    rejected = refusals(client, profile, batch)
    if rejected:
        state.counters[f"{client.id}.rejected_records"] += len(rejected)
        log.warning(
            "gateway_rights_rejected",
            client_id=client.id,
            family=family,
            records=len(batch),
            rejected=len(rejected),
        )
        return _error(
            403,
            "outside_rights",
            N_("{count} record(s) lie outside the sender's rights; nothing was taken."),
            count=len(rejected),
            rejected=[msgspec.to_builtins(refusal) for refusal in rejected],
        )

    wait = state.bucket(client).take(len(batch))
    if wait == math.inf:
        return _error(
            413,
            "batch_above_burst",
            N_("The batch is larger than the sender's burst of {burst} records; split it."),
            burst=int(client.burst),
        )
    if wait > 0:
        state.counters[f"{client.id}.rate_limited"] += 1
        return _error(
            429,
            "rate_limited",
            N_("Sender {client} exceeded its rate of {rate} records per second."),
            retry_after=wait,
            client=client.id,
            rate=client.rate,
        )

    if not state.bus_connected():
        state.counters[f"{client.id}.bus_down"] += 1
        return _error(
            503,
            "bus_unavailable",
            N_("The bus is unreachable; the records were not taken."),
            retry_after=BUS_DOWN_RETRY_S,
        )
    if not state.admission.try_admit(len(batch)):
        state.counters[f"{client.id}.overloaded"] += 1
        return _error(
            503,
            "overloaded",
            N_("The bus is behind; {pending} records are waiting. The records were not taken."),
            retry_after=OVERLOAD_RETRY_S,
            pending=state.admission.pending,
        )

    return await _ingest(state, intake, batch)


async def _ingest(
    state: GatewayState, intake: Intake, batch: list[dict[str, object]]
) -> web.Response:
    # The work goes on even if the sender hangs up: its records then have
    # outcomes on the bus, and a retry learns them as duplicates.
    work = asyncio.ensure_future(intake.submit(batch))
    work.add_done_callback(lambda _task: state.admission.release(len(batch)))
    try:
        outcomes = await asyncio.shield(work)
    except Exception as exc:
        return _error(
            503,
            "ingest_failed",
            N_("The records could not be given an outcome ({detail}); send them again."),
            retry_after=OVERLOAD_RETRY_S,
            detail=type(exc).__name__,
        )
    results = [_outcome_document(outcome) for outcome in outcomes]
    return _answer(200, {"results": results, "totals": _totals(outcomes)})


def _outcome_document(outcome: RecordOutcome) -> dict[str, Any]:
    """Return an outcome with each reason's rule message in the gateway's screen language."""
    document: dict[str, Any] = msgspec.to_builtins(outcome)
    english = current_language() == "en"
    if outcome.reasons:
        document["reasons"] = [
            {**msgspec.to_builtins(reason), "message": render_reason(reason, english=english)}
            for reason in outcome.reasons
        ]
    return document


def _totals(outcomes: list[RecordOutcome]) -> dict[str, int]:
    return dict(Counter(outcome.outcome for outcome in outcomes))
