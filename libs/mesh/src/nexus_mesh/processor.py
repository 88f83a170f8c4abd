"""The StreamProcessor: read a stream through a consumer group, handle, publish, acknowledge.

Guarantee: every entry is handled until its outputs are published, at least once, and its outputs
appear at most once (idempotent publish before XACK, see `publish`). How:

- On start, and after any lost connection, the consumer first re-reads its *own* pending entries
  (`XREADGROUP ... 0`), then new ones (`>`). Entries left pending by a dead consumer are taken over
  with XAUTOCLAIM (JUSTID, so the delivery count is not inflated) once idle past NX_CLAIM_IDLE_MS.
- A batch's outputs and acknowledgements go out in one pipeline, outputs first: a crash in between
  leaves the input pending, and the redelivered input republishes the same ids as no-ops.
- An entry that fails validation is dead-lettered at once with the reason. An entry whose handler
  raises stays pending and is retried with backoff; after NX_MAX_DELIVERIES it is dead-lettered.
- NOGROUP (the stream vanished) recreates the group and raises a critical event: a data-loss alarm.
- Redis down: back off and reconnect, then re-read own pending entries.
- SIGTERM (via `stop`): finish the batch, acknowledge, return.
- A sink stage (the recorder) passes `on_commit`: called once per batch after its outputs are
  published and before its inputs are acknowledged, it commits what the handlers gathered (the
  recorder's database transaction). If it raises, nothing of the batch is acknowledged; the entries
  stay pending and are read again after a backoff.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from nexus_mesh import metrics
from nexus_mesh.context import Context
from nexus_mesh.groups import ensure_group, is_nogroup
from nexus_mesh.health import HeartbeatWriter
from nexus_mesh.publish import Output, Publisher
from nexus_mesh.retention import safe_trim
from nexus_mesh.settings import MeshSettings
from nexus_protocol.codec import Envelope, decode
from nexus_protocol.enums import Severity
from nexus_protocol.errors import DecodeError
from nexus_protocol.messages import DeadLetter, Message

log = logging.getLogger(__name__)

Handler = Callable[[Envelope[Message], Context], Iterable[Output]]
Tick = Callable[[Context], Iterable[Output]]
_TRIM_EVERY_S = 600.0


@dataclass(frozen=True, slots=True)
class Input:
    """One input stream. `start_id` is where the group starts: `0` (orders, fills) or `$`."""

    stream: str
    handler: Handler
    start_id: str = "0"
    trim: bool = True  # keep the stream to the retention window (only below every group's position)


@dataclass(slots=True)
class _Counters:
    processed: int = 0
    dead_lettered: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # entry id -> handler failures here


class StreamProcessor:
    def __init__(
        self,
        settings: MeshSettings,
        inputs: Sequence[Input],
        *,
        client: redis.Redis,
        group: str | None = None,
        tick: Tick | None = None,
        tick_interval_s: float = 1.0,
        heartbeat_detail: Callable[[], dict[str, Any]] | None = None,
        on_group_lost: Callable[[str], None] | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        if not inputs and tick is None:
            raise ValueError("a processor needs at least one input or a tick")
        self.settings = settings
        self.names = settings.names
        self.group = group or settings.service
        self.consumer = settings.consumer
        self.client = client
        self.inputs = {i.stream: i for i in inputs}
        self.publisher = Publisher(client, dedupe_ttl_ms=settings.dedupe_ttl_ms)
        self.heartbeat = HeartbeatWriter(
            client, self.names, settings.service, self.consumer, settings.heartbeat_ttl_ms
        )
        self.heartbeat_detail = heartbeat_detail
        self.on_group_lost = on_group_lost
        self.on_commit = on_commit
        self._tick = tick
        self._tick_interval_s = tick_interval_s
        self._next_tick = 0.0
        self._next_claim = 0.0
        self._next_trim = time.monotonic() + 5.0
        self._retry_at: float | None = None
        self._pending_mode = True  # own pending entries first
        self._cursor: dict[str, str] = {}
        self._stopping = False
        self._counters = _Counters()
        self._label = settings.service
        self._batches = 0
        self._ctx = Context(names=self.names, client=client, settings=settings, service=settings.service)
        self._acks: dict[str, list[str]] = {}  # published, to acknowledge with the next read
        self._m_handler = metrics.HANDLER_SECONDS.labels(self._label)
        self._m_published = metrics.PUBLISHED.labels(self._label)

    # ---- lifecycle -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop intake; the batch in hand is finished and acknowledged before `run` returns."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    def __repr__(self) -> str:
        c = self._counters
        return (
            f"<StreamProcessor {self.group}/{self.consumer} processed={c.processed} dead={c.dead_lettered}>"
        )

    def setup(self) -> None:
        for inp in self.inputs.values():
            ensure_group(self.client, inp.stream, self.group, inp.start_id)

    def run(self) -> None:
        backoff = 0.1
        ready = False
        while not self._stopping:
            try:
                if not ready:
                    self.setup()
                    ready = True
                    metrics.REDIS_UP.labels(self._label).set(1)
                self.run_once()
                backoff = 0.1
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                metrics.REDIS_UP.labels(self._label).set(0)
                log.warning("redis unavailable (%s); retrying in %.1fs", exc, backoff)
                self._sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                ready = False
                self._enter_pending_mode()
            except redis.ResponseError as exc:
                if not is_nogroup(exc):
                    raise
                self._recreate_groups()
        try:
            self.flush_acks()
            self.heartbeat.clear()
        except redis.RedisError as exc:
            log.warning("could not acknowledge the last batch on stop (%s): it will be redelivered", exc)
        log.info("stopped: %r", self)

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < end:
            time.sleep(min(0.05, seconds))

    # ---- one iteration ---------------------------------------------------------------------------

    def run_once(self) -> int:
        now = time.monotonic()
        if self._tick is not None and now >= self._next_tick:
            self._next_tick = now + self._tick_interval_s
            try:
                outs = list(self._tick(self._context(None, None, 0)))
            except (redis.ConnectionError, redis.TimeoutError):
                raise
            except Exception:
                log.exception("periodic work failed; the service goes on")
                outs = []
            if outs:
                self.publisher.publish(outs)
        if self.heartbeat.due():
            self._beat()
        if self.inputs and now >= self._next_claim:
            self._next_claim = now + self.settings.claim_idle_ms / 2000
            self._claim_idle()
        if now >= self._next_trim:
            self._next_trim = now + _TRIM_EVERY_S
            self._trim()
        if not self.inputs:
            self._sleep(min(self._tick_interval_s, self.settings.block_ms / 1000))
            return 0
        if self._retry_at is not None and now >= self._retry_at:
            self._retry_at = None
            self._enter_pending_mode()
        if self._pending_mode:
            return self._read_pending()
        block = self.settings.block_ms
        if self._retry_at is not None:
            block = max(1, min(block, int((self._retry_at - now) * 1000)))
        if self._tick is not None:
            block = max(1, min(block, int((self._next_tick - time.monotonic()) * 1000)))
        reply = self._xreadgroup({s: ">" for s in self.inputs}, block=block)
        return self._process(reply or [], deliveries=None)

    def _xreadgroup(self, streams: dict[str, str], block: int | None = None) -> Any:
        """Read, sending the previous batch's acknowledgements in the same round trip.

        The acknowledgements follow their outputs' publish (already done), so a crash before they
        land only redelivers entries whose republish is a no-op.
        """
        pipe = self.client.pipeline(transaction=False)
        acks = self._acks
        for stream, ids in acks.items():
            pipe.xack(stream, self.group, *ids)
        pipe.xreadgroup(self.group, self.consumer, streams, count=self.settings.batch_size, block=block)  # type: ignore[arg-type]
        replies = pipe.execute()
        self._count_acked(acks)
        return replies[-1]

    def flush_acks(self) -> None:
        if self._acks:
            pipe = self.client.pipeline(transaction=False)
            for stream, ids in self._acks.items():
                pipe.xack(stream, self.group, *ids)
            pipe.execute()
            self._count_acked(self._acks)

    def _count_acked(self, acks: dict[str, list[str]]) -> None:
        for stream, ids in acks.items():
            metrics.PROCESSED.labels(self._label, stream).inc(len(ids))
        self._acks = {}

    def _enter_pending_mode(self) -> None:
        self._pending_mode = True
        self._cursor = {s: "0" for s in self.inputs}

    def _read_pending(self) -> int:
        if not self._cursor:
            self._cursor = {s: "0" for s in self.inputs}
        reply = self._xreadgroup(dict(self._cursor))
        entries = [(s, items) for s, items in (reply or []) if items]
        if not entries:
            self._pending_mode = False
            self._cursor = {}
            return 0
        deliveries: dict[str, int] = {}
        for stream, items in entries:
            deliveries |= self._deliveries(_s(stream), items)
            self._cursor[_s(stream)] = _s(items[-1][0])
        return self._process(entries, deliveries=deliveries)

    def _claim_idle(self) -> int:
        """Take over entries idle past the limit (their consumer died) and handle them now."""
        handled = 0
        for stream in self.inputs:
            cursor = "0-0"
            while not self._stopping:
                res = self.client.xautoclaim(
                    stream,
                    self.group,
                    self.consumer,
                    self.settings.claim_idle_ms,
                    cursor,
                    count=self.settings.batch_size,
                )
                cursor, entries = _s(res[0]), res[1]
                for lost in res[2] if len(res) > 2 else ():
                    log.error(
                        "pending entry %s on %s was trimmed or deleted: its payload is lost", _s(lost), stream
                    )
                if entries:
                    log.warning("claimed %d idle entries on %s", len(entries), stream)
                    handled += self._process(
                        [(stream, entries)], deliveries=self._deliveries(stream, entries)
                    )
                if cursor == "0-0":
                    break
        return handled

    def _deliveries(self, stream: str, items: list[Any]) -> dict[str, int]:
        first, last = items[0][0], items[-1][0]
        rows = self.client.xpending_range(
            stream, self.group, first, last, len(items), consumername=self.consumer
        )
        return {_s(p["message_id"]): int(p["times_delivered"]) for p in rows}

    # ---- handling --------------------------------------------------------------------------------

    def _process(self, reply: Iterable[Any], deliveries: dict[str, int] | None) -> int:
        self._batches += 1
        self._maybe_fault("after_read")
        outputs: list[Output] = []
        acks: dict[str, list[str]] = {}
        handled = 0
        for raw_stream, items in reply:
            stream = _s(raw_stream)
            inp = self.inputs[stream]
            for raw_id, fields in items:
                entry_id = _s(raw_id)
                n = deliveries.get(entry_id, 1) if deliveries is not None else 1
                if self._handle_entry(outputs, inp, entry_id, fields, n):
                    acks.setdefault(stream, []).append(entry_id)
                    handled += 1
        self.publisher.publish(outputs)
        self._maybe_fault("after_publish")
        if self.on_commit is not None and not self._sink_commit():
            return 0
        self._maybe_fault("after_commit")
        failures = self._counters.failures
        for stream, ids in acks.items():
            self._acks.setdefault(stream, []).extend(ids)
            if failures:
                for i in ids:
                    failures.pop(i, None)
        self._counters.processed += handled
        return handled

    def _sink_commit(self) -> bool:
        assert self.on_commit is not None
        try:
            self.on_commit()
        except Exception:
            log.exception("the batch's commit failed: nothing of it is acknowledged, it will be read again")
            self._retry_at = time.monotonic() + 1.0
            return False
        return True

    def _handle_entry(
        self, out: list[Output], inp: Input, entry_id: str, fields: Any, deliveries: int
    ) -> bool:
        """Queue the entry's outputs (or its dead letter); True when it may be acknowledged."""
        if fields is None:  # trimmed or deleted while pending (Redis 6.2 returns it as nil)
            log.error("entry %s on %s was deleted while pending: its payload is lost", entry_id, inp.stream)
            return True
        limit = self.settings.max_deliveries
        if deliveries > limit:
            self._dead_letter(
                out,
                inp.stream,
                entry_id,
                fields,
                deliveries,
                f"delivered {deliveries} times (limit {limit}) without being acknowledged",
            )
            return True
        started = time.perf_counter()
        try:
            env = decode(fields)
        except DecodeError as exc:
            self._dead_letter(out, inp.stream, entry_id, fields, deliveries, f"invalid entry: {exc}")
            return True
        try:
            outputs = list(inp.handler(env, self._context(inp.stream, entry_id, deliveries)))
        except Exception as exc:
            metrics.HANDLER_FAILURES.labels(self._label, inp.stream).inc()
            failures = self._counters.failures[entry_id] = self._counters.failures.get(entry_id, 0) + 1
            if deliveries >= limit:
                self._dead_letter(
                    out,
                    inp.stream,
                    entry_id,
                    fields,
                    deliveries,
                    f"handler failed on delivery {deliveries} of {limit}: {type(exc).__name__}: {exc}",
                )
                return True
            log.warning("handler failed on %s %s (delivery %d): %r", inp.stream, entry_id, deliveries, exc)
            delay = min(0.05 * 2**failures, 5.0)
            retry_at = time.monotonic() + delay
            self._retry_at = retry_at if self._retry_at is None else min(self._retry_at, retry_at)
            return False
        self._m_handler.observe(time.perf_counter() - started)
        out += outputs
        self._m_published.inc(len(outputs))
        return True

    def _fault_due(self, point: str) -> bool:
        s = self.settings
        return s.fault_kill_at == point and self._batches == s.fault_kill_batch

    def _maybe_fault(self, point: str) -> None:
        if self._fault_due(point):
            log.critical("fault injection: SIGKILL %s", point)
            os.kill(os.getpid(), signal.SIGKILL)

    def _dead_letter(
        self, out: list[Output], stream: str, entry_id: str, fields: Any, deliveries: int, reason: str
    ) -> None:
        log.error("dead-lettering %s %s: %s", stream, entry_id, reason)
        raw = {(_s(k)): (v if isinstance(v, bytes) else str(v).encode()) for k, v in fields.items()}
        body = DeadLetter(
            reason=reason,
            stream=stream,
            entry_id=entry_id,
            group=self.group,
            consumer=self.consumer,
            deliveries=deliveries,
            fields=raw,
        )
        dl_id = f"{stream}/{entry_id}/{self.group}"
        out.append(Output(self.names.dlq, Envelope.new(body, id=dl_id)))
        metrics.DEAD_LETTERED.labels(self._label, stream).inc()
        self._counters.dead_lettered += 1

    def _context(self, stream: str | None, entry_id: str | None, deliveries: int) -> Context:
        """The handler's context. One object is reused on the hot path (handlers must not keep it)."""
        ctx = self._ctx
        ctx.stream, ctx.entry_id, ctx.deliveries = stream, entry_id, deliveries
        return ctx

    # ---- upkeep ----------------------------------------------------------------------------------

    def _recreate_groups(self) -> None:
        for inp in self.inputs.values():
            if ensure_group(self.client, inp.stream, self.group, inp.start_id):
                metrics.GROUPS_RECREATED.labels(self._label, inp.stream).inc()
                log.critical(
                    "group %s on %s was lost and recreated: entries may be lost", self.group, inp.stream
                )
                ctx = self._context(inp.stream, None, 0)
                self.publisher.publish(
                    [
                        ctx.event(
                            "group_recreated",
                            f"consumer group {self.group} on {inp.stream} vanished and was recreated; "
                            "pending and unread entries may be lost: reconcile every venue",
                            severity=Severity.CRITICAL,
                            event_id=f"group_recreated:{inp.stream}:{self.group}:{time.time_ns()}",
                        )
                    ]
                )
                if self.on_group_lost is not None:
                    self.on_group_lost(inp.stream)
        self._enter_pending_mode()

    def _beat(self) -> None:
        detail = self.heartbeat_detail() if self.heartbeat_detail else {}
        self.heartbeat.beat(
            processed=self._counters.processed, dead_lettered=self._counters.dead_lettered, detail=detail
        )
        for stream in self.inputs:
            try:
                for g in self.client.xinfo_groups(stream):
                    if _s(g["name"]) == self.group:
                        metrics.PENDING.labels(self._label, stream).set(int(g["pending"]))
                        if g.get("lag") is not None:
                            metrics.CONSUMER_LAG.labels(self._label, stream).set(int(g["lag"]))
            except redis.ResponseError:
                pass

    def _trim(self) -> None:
        cutoff_ms = int(time.time() * 1000) - self.settings.retention_ms
        for inp in self.inputs.values():
            if inp.trim:
                safe_trim(self.client, inp.stream, cutoff_ms)


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
