"""The ingress's logic behind the HTTP routes: a payload in, an answer out (`Answer`).

`accept` validates everything before anything is written, so a bad payload leaves no trace in
the mesh. A valid one is admitted (`Store.admit`: replay, rate limit, record) and put on the bridge
intake with the idempotent publish, where the bridge's filters, duplicate prevention and breakers
decide as for any NEXUS signal. The same key from the same source is the same signal id
(`keyed_signal_id`), so a second call republishes a no-op and returns the first answer; a key reused
for a different payload is refused. While the bridge service is not running nothing is accepted
(503, like the NEXUS client's safe mode): a signal would only wait on the intake and go stale.

`ExecutionRecorder` is the stage that keeps, for GET /signals/{id}, the latest execution of every
signal that came in here (nx:executions through the consumer group `ingress`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from nexus_ingress import answers
from nexus_ingress.answers import Answer
from nexus_ingress.config import IngressConfig, IngressSettings
from nexus_ingress.payloads import (
    KEY_PATTERN,
    FieldProblem,
    PayloadError,
    SignalRequest,
    TradingViewAlert,
    parse,
)
from nexus_ingress.signals import Inbound, inbound, to_signal, unrendered
from nexus_ingress.store import Outcome, Store, new_record
from nexus_mesh.context import Context
from nexus_mesh.publish import Output, Publisher
from nexus_protocol.codec import Envelope
from nexus_protocol.ids import is_signal_id
from nexus_protocol.messages import Execution, Message
from nexus_protocol.streams import Names
from nexus_protocol.symbols import SymbolRegistry

log = logging.getLogger(__name__)
SIGNAL = "signal"
TRADINGVIEW = "tradingview"
MODELS: dict[str, type[SignalRequest] | type[TradingViewAlert]] = {
    SIGNAL: SignalRequest,
    TRADINGVIEW: TradingViewAlert,
}
KEY_HEADER = "Idempotency-Key"


@dataclass
class _Cached:
    """A value read at most once per `ttl_s` (the bridge's status key on every request otherwise)."""

    read: Callable[[], bool]
    ttl_s: float
    value: bool = False
    at: float = field(default=-1e9)

    def get(self, *, fresh: bool = False) -> bool:
        now = time.monotonic()
        if fresh or now - self.at >= self.ttl_s:
            self.value, self.at = self.read(), now
        return self.value


class Ingress:
    def __init__(
        self,
        settings: IngressSettings,
        cfg: IngressConfig,
        registry: SymbolRegistry,
        store: Store,
        publisher: Publisher,
        *,
        bridge_alive: Callable[[], bool],
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.settings = settings
        self.names: Names = settings.names
        self.cfg = cfg
        self.registry = registry
        self.store = store
        self.publisher = publisher
        self._bridge = _Cached(bridge_alive, 0.5)
        self._now_ns = now_ns
        self.counters = {"accepted": 0, "replayed": 0, "refused": 0, "limited": 0}

    def __repr__(self) -> str:
        c = self.counters
        return f"<Ingress {self.names.namespace} " + " ".join(f"{k}={v}" for k, v in c.items()) + ">"

    # ---- POST ---------------------------------------------------------------------------------

    def accept(self, kind: str, source: str, body: Any, header_key: str | None) -> Answer:
        try:
            request = self._inbound(kind, source, body, header_key)
        except PayloadError as exc:
            self.counters["refused"] += 1
            return answers.problem(422, "Invalid signal", str(exc), exc.problems)
        if not self._bridge.get():
            return self._bridge_down()
        return self._admit(request)

    @staticmethod
    def _bridge_down() -> Answer:
        return answers.problem(
            503,
            "Bridge not running",
            "the nexus-bridge service is not running (no status key): nothing is accepted; retry later",
            headers={"Retry-After": "5"},
        )

    def _inbound(self, kind: str, source: str, body: Any, header_key: str | None) -> Inbound:
        if kind == TRADINGVIEW and isinstance(body, Mapping):
            unrendered(body)
        req = parse(MODELS[kind], body)
        key = _key(req, header_key, required=self.settings.ingress_require_idempotency_key)
        policy = self.cfg.policy(source)
        signal = to_signal(req, source=source, policy=policy, registry=self.registry)
        return inbound(kind, body, req, signal, source=source, key=key, now_ns=self._now_ns())

    def _admit(self, request: Inbound) -> Answer:
        policy = self.cfg.policy(request.source)
        record = new_record(request.source, request.key, request.fingerprint, request.envelope)
        got = self.store.admit(record, request.signal_id, rate_per_s=policy.rate_per_s, burst=policy.burst)
        if got.outcome is Outcome.LIMITED:
            self.counters["limited"] += 1
            wait_s = max(1, -(-got.retry_after_ms // 1000))
            return answers.problem(
                429,
                "Rate limit",
                f"source {request.source} may send {policy.rate_per_s:g} signals a second "
                f"(bursts of {policy.burst}); retry in {wait_s} s",
                headers={"Retry-After": str(wait_s)},
            )
        assert got.record is not None
        first = got.record
        if got.outcome is Outcome.SEEN and first.fingerprint != request.fingerprint:
            self.counters["refused"] += 1
            field_name = KEY_HEADER if request.key is not None else "idempotency_key"
            return answers.problem(
                422,
                "Idempotency key reused",
                f"key {request.key!r} was used for a different request (signal {request.signal_id})",
                [FieldProblem(field_name, "already used for a different request")],
            )
        # A replay publishes again: a no-op if the first publish went out, the signal if it did not.
        self.publisher.publish([Output(self.names.bridge_intake, first.envelope)])
        replayed = got.outcome is Outcome.SEEN
        self.counters["replayed" if replayed else "accepted"] += 1
        if not replayed:
            log.info("accepted %s from %s (key %r)", request.signal_id, request.source, request.key)
        return answers.accepted(first, replayed=replayed)

    # ---- GET ----------------------------------------------------------------------------------

    def signal(self, source: str, signal_id: str) -> Answer:
        record = self.store.record(signal_id) if is_signal_id(signal_id) else None
        if record is None or record.source != source:
            return answers.problem(404, "Unknown signal", f"no signal {signal_id} from source {source}")
        env = self.store.execution(signal_id)
        ex = env.body if env is not None and isinstance(env.body, Execution) else None
        return answers.view(record, ex)

    def health(self) -> Answer:
        """200 while Redis answers and the bridge runs (the status key it keeps), else 503."""
        if self._bridge.get(fresh=True):
            return Answer(200, {"status": "ok"})
        return self._bridge_down()


def _key(req: BaseModel, header_key: str | None, *, required: bool) -> str | None:
    if header_key is not None and not re.fullmatch(KEY_PATTERN, header_key):
        raise PayloadError.one(KEY_HEADER, "want 1 to 255 printable ASCII characters")
    body_key: str | None = req.key()  # type: ignore[attr-defined]
    if header_key is not None and body_key is not None and header_key != body_key:
        raise PayloadError.one("idempotency_key", f"differs from the {KEY_HEADER} header")
    key = header_key if header_key is not None else body_key
    if key is None and required:
        raise PayloadError.one(KEY_HEADER, "this ingress requires an idempotency key")
    return key


class ExecutionRecorder:
    """nx:executions -> the latest execution of each signal that came in through the ingress."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.kept = 0

    def handle(self, env: Envelope[Message], ctx: Context) -> list[Output]:
        ex = env.body
        if not isinstance(ex, Execution) or not is_signal_id(ex.signal_id):
            return []  # not one of ours: the ingress issues ULIDs (a refused malformed id is not a key)
        if self.store.keep_execution(env, ex.signal_id, ex.final):
            self.kept += 1
        return []
