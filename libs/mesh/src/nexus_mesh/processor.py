"""The StreamProcessor: read a stream through a consumer group, handle, commit, acknowledge.

A handler is `(envelope, ctx) -> Result(outputs, writes)` (or just an iterable of outputs). A stage
handler reads its state through `ctx` (see `nexus_mesh.state`) and calls no Redis. For each batch
the processor:

1. reads entries (`XREADGROUP`), and in the same round trip WATCHes the stage's state version,
   reads it (a changed version drops the in-process cache) and the stage's `fresh` reads;
2. calls the handler per entry; a read of state not loaded yet is loaded and the handler called again;
   the writes of each message are visible to the next ones of the batch;
3. commits every output, its dedupe key and every state write in one MULTI/EXEC round trip, one script
   call per hash slot (`nexus_mesh.commit`); if another writer changed the state since the WATCH,
   Redis refuses the EXEC and the batch is handled again from freshly loaded state;
4. acknowledges the inputs with the next read (decision 0003).

A crash before the commit leaves nothing written and the batch is redelivered; a crash after it
redelivers inputs whose outputs exist (republish is a no-op) against the state as committed. So a
redelivered input never yields a second, different effect.

- On start, and after any lost connection, the consumer first re-reads its *own* pending entries
  (`XREADGROUP ... 0`), then new ones (`>`). Entries left pending by a dead consumer are taken over
  with XAUTOCLAIM (JUSTID is not used: the delivery count matters) once idle past NX_CLAIM_IDLE_MS.
- An entry that fails validation, or whose handler raises anything but an I/O error, is dead-lettered
  at once with the reason: the handler is a function of its input and state, a retry would fail the
  same way. An I/O error (Redis, OSError, TimeoutError: an adapter's platform call) leaves the entry
  pending, retried with backoff; after NX_MAX_DELIVERIES it is dead-lettered. An entry over
  NX_MAX_ENTRY_BYTES is not decoded: it is dead-lettered by reference (`nexus_mesh.deadletter`).
- An input's `on_dead_letter` hook answers what it dead-letters (the router's rejected route for a
  signal, an event for a fill): its outputs and writes are committed with the dead letter. A sink that
  keeps what it cannot process itself (the recorder) sets `dead_letters=False`: one input, one dead
  letter, written by the stage that owns the stream.
- NOGROUP (the stream vanished) recreates the group and raises a critical event: a data-loss alarm.
- After a reconnect (a failover to a replica, a restart from an AOF that missed the last writes), each
  input stream whose last id, or whose group's last-delivered id, is below the highest id this
  consumer had read lost acknowledged writes (inputs read from `$`, market data, are not checked):
  a critical `data_loss` event, `on_group_lost(stream)`
  (adapters reconcile), and the entries up to that id are marked `ctx.maybe_handled` (an adapter asks
  its platform before sending such an order). `on_reconnect` is called after every reconnect.
- NX_WAIT_REPLICAS (one server with replicas, Sentinel): each commit is followed, in the same round
  trip, by WAIT for that many replicas (at most NX_WAIT_TIMEOUT_MS), so the inputs are acknowledged only
  after their effects reached a replica, or the timeout passed (counted, logged). Not on a cluster.
- Redis down: back off and reconnect, then re-read own pending entries.
- SIGTERM (via `stop`): finish the batch, acknowledge, return.
- Redis Cluster (`connection.is_cluster`): no WATCH and no MULTI/EXEC across slots. Inputs are read
  with one XREADGROUP per hash slot in one pipeline (the cluster client sends each node its reads at
  once), none blocking; only when all come back empty does a second round block on one of them, at
  most `CLUSTER_BLOCK_MS`. A stage with state
  commits in two steps: first, in the owner's slot, one script that checks the state version read with
  the batch (the `V` guard instead of WATCH), applies the state writes and records the calls for the
  other slots in the owner's outbox (`state:{owner}:outbox`); then those calls, one per slot. A crash
  between the two leaves the outbox, which any consumer of the stage runs (idempotent: dedupe keys)
  before taking over entries and at start; the entry is removed with the next commit. A stage without
  state sends its calls per slot: a redelivered input republishes the same ids. Docs: docs/scaling.md.
- A sink stage (the recorder) passes `on_commit`: called once per batch after its outputs and state
  are committed and before its inputs are acknowledged, it commits what the handlers gathered (the
  recorder's database transaction). If it raises, nothing of the batch is acknowledged; the entries
  stay pending and are read again after a backoff.
- Fault injection for crash tests (NX_FAULT_KILL_AT, NX_FAULT_KILL_BATCH): SIGKILL after_read,
  after_handle (handled, nothing committed), mid_commit (a cluster: the owner's slot committed, the
  others not), after_commit (committed, not acknowledged).
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.exceptions import ClusterError, RedisClusterException, TryAgainError

from nexus_mesh import commit, metrics
from nexus_mesh.connection import CLUSTER_BLOCK_MS, as_bytes, as_str, by_slot, dedicated_client, is_cluster
from nexus_mesh.context import Context
from nexus_mesh.deadletter import Rejected, dead_letter, entry_size, oversized_reason
from nexus_mesh.groups import ensure_group, is_nogroup
from nexus_mesh.health import HeartbeatWriter
from nexus_mesh.lag import group_lag
from nexus_mesh.loader import queue_reads, store
from nexus_mesh.publish import Output, Publisher
from nexus_mesh.retention import safe_trim
from nexus_mesh.scripts import run_pipeline
from nexus_mesh.settings import MeshSettings
from nexus_mesh.state import Loaded, Missing, Op, Read, Result, StateView, Writes
from nexus_protocol.codec import Envelope, decode
from nexus_protocol.enums import Severity
from nexus_protocol.errors import DecodeError
from nexus_protocol.messages import Message

log = logging.getLogger(__name__)

Handler = Callable[[Envelope[Message], Context], Result | Iterable[Output]]
DeadLetterHook = Callable[[Rejected, Context], Result | Iterable[Output]]
Tick = Callable[[Context], Result | Iterable[Output]]
TRANSIENT = (redis.RedisError, OSError, TimeoutError)
# Redis unreachable, or a cluster mid-failover (CLUSTERDOWN, TRYAGAIN, a slot without its node yet).
RECONNECT = (redis.ConnectionError, redis.TimeoutError, ClusterError, TryAgainError, RedisClusterException)
_TRIM_EVERY_S = 600.0
_MAX_LOADS = 16  # loads for one message before its handler is taken to be broken
_CACHE_MAX = 200_000  # cached state entries; past it the cache starts over (it reloads on demand)


@dataclass(frozen=True, slots=True)
class Input:
    """One input stream. `start_id` is where the group starts: `0` (orders, fills) or `$`."""

    stream: str
    handler: Handler
    start_id: str = "0"
    trim: bool = True  # keep the stream to the retention window (only below every group's position)
    # The state a message will read, loaded for the whole batch in one round trip before handling
    # (optional: whatever is not prefetched is loaded when read, one round trip each).
    prefetch: Callable[[Envelope[Message]], Iterable[Read]] | None = None
    untrusted: bool = False  # written from outside the mesh: decoded with every check (finite numbers)
    # What the stage answers for an entry of this input it dead-letters (a rejected execution, an
    # event), committed with the dead letter; it reads state through ctx like a handler.
    on_dead_letter: DeadLetterHook | None = None
    # False: a sink that keeps what it cannot process itself (in `on_dead_letter`), so the stage that
    # owns the stream writes its one dead letter.
    dead_letters: bool = True


class _Unhandled:
    """An entry that will not reach its handler: why, and its envelope when it decoded."""

    __slots__ = ("envelope", "oversized", "reason")

    def __init__(self, reason: str, envelope: Envelope[Message] | None = None, oversized: bool = False):
        self.reason, self.envelope, self.oversized = reason, envelope, oversized


@dataclass(slots=True)
class _Counters:
    processed: int = 0
    dead_lettered: int = 0
    conflicts: int = 0  # batches handled again because another writer changed the state
    failures: dict[str, int] = field(default_factory=dict)  # entry id -> transient failures here


@dataclass(slots=True)
class _Batch:
    outputs: list[Output] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    acks: dict[str, list[str]] = field(default_factory=dict)
    handled: int = 0


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
        state_owner: str | None = None,
        fresh: Sequence[Read] = (),
        on_commit: Callable[[], None] | None = None,
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        """`state_owner` ("fills"): the stage owns `names.state(owner, ...)`, cached and versioned;
        `fresh`: reads made with every batch (the kill switch, venue links...), never cached."""
        if not inputs and tick is None:
            raise ValueError("a processor needs at least one input or a tick")
        self.settings = settings
        self.names = settings.names
        self.group = group or settings.service
        self.consumer = settings.consumer
        self.client = client
        self.cluster = is_cluster(client)
        self.conn = dedicated_client(client) if state_owner else client
        self.inputs = {i.stream: i for i in inputs}
        self.publisher = Publisher(client, dedupe_ttl_ms=settings.dedupe_ttl_ms)
        self.heartbeat = HeartbeatWriter(
            client, self.names, settings.service, self.consumer, settings.heartbeat_ttl_ms
        )
        self.heartbeat_detail = heartbeat_detail
        self.on_group_lost = on_group_lost
        self.on_commit = on_commit
        self.on_reconnect = on_reconnect
        self._high: dict[str, tuple[int, int]] = {}  # input stream -> the highest entry id read
        self._suspect: dict[str, tuple[int, int]] = {}  # entries up to here may have been handled
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
        self._owner_prefix = self.names.state(state_owner) if state_owner else None
        self._version_key = self.names.state(state_owner, "version") if state_owner else None
        self._outbox_key = self.names.state(state_owner, "outbox") if state_owner else None
        self._outbox_done: list[str] = []  # outbox entries run, removed with the next commit
        self._read_turn = 0
        self._version: bytes | None = None
        self._token = secrets.token_hex(6)
        self._commits = 0
        self._fresh_reads = tuple(fresh)
        self._cache, self._fresh = Loaded(), Loaded()
        self._view = StateView(self._cache, self._fresh, self._owner_prefix)
        self._prepared = False
        self._ctx = Context(
            names=self.names, client=client, settings=settings, service=settings.service, view=self._view
        )
        self._acks: dict[str, list[str]] = {}  # committed, to acknowledge with the next read
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
            f"<StreamProcessor {self.group}/{self.consumer} processed={c.processed} "
            f"dead={c.dead_lettered} conflicts={c.conflicts}>"
        )

    def setup(self) -> None:
        reconnect = bool(self._high)
        self._check_lost()  # before the groups are made again
        for inp in self.inputs.values():
            ensure_group(self.client, inp.stream, self.group, inp.start_id)
        self.client.script_load(commit.APPLY.source)
        self._run_outbox()
        self._cache.clear()  # after a reconnect nothing read before is trusted
        self._version = None
        self._prepared = False
        if reconnect and self.on_reconnect is not None:
            self.on_reconnect()

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
            except RECONNECT as exc:
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
            if self._outbox_done and self._outbox_key is not None:
                self.client.hdel(self._outbox_key, *self._outbox_done)
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
            self._run_tick()
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
        """Read, sending the previous batch's acknowledgements in the same round trip, and preparing
        the state (WATCH, version, fresh reads) right after the entries arrive, in the same round trip
        (Redis runs the commands queued behind a blocked read when it returns; on a cluster, in a
        round trip after the read, see `_read`).

        On a cluster with inputs in several slots, every slot is read without blocking first; only
        when all are empty does one read block (at most CLUSTER_BLOCK_MS), the others going on."""
        groups = self._by_slot(streams)
        if len(groups) > 1 and block is not None:
            got = self._read(groups, None)
            if got:
                return got
            block = min(block, CLUSTER_BLOCK_MS)
        return self._read(groups, block)

    def _read(self, groups: list[dict[str, str]], block: int | None) -> Any:
        pipe = self.conn.pipeline(transaction=False)
        acks = self._acks
        for stream, ids in acks.items():
            pipe.xack(stream, self.group, *ids)
        for i, group in enumerate(groups):
            pipe.xreadgroup(
                self.group, self.consumer, group, count=self.settings.batch_size,  # type: ignore[arg-type]
                block=block if i == 0 else None,
            )  # fmt: skip
        # On a cluster the state is read in a round trip of its own once entries came: commands for
        # other nodes run when sent, not after the read returns, so a blocked read's batch would see
        # the kill switch or the contracts as they were before its entries were written.
        answered = None if self.cluster else self._queue_prepare(pipe)
        replies = pipe.execute()
        self._count_acked(acks)
        if answered is None:
            self._prepared = False
        else:
            self._store_prepare(answered, replies[len(replies) - self._prepared_replies(answered) :])
        read = replies[len(acks) : len(acks) + len(groups)]
        return read[0] if len(read) == 1 else [entry for reply in read for entry in reply or ()]

    def _by_slot(self, streams: dict[str, str]) -> list[dict[str, str]]:
        """One read for all streams, or on a cluster one per hash slot, taking turns at blocking."""
        if not self.cluster:
            return [streams]
        groups = by_slot(streams)
        self._read_turn = (self._read_turn + 1) % len(groups)
        return groups[self._read_turn :] + groups[: self._read_turn]

    def _queue_prepare(self, pipe: Any) -> list[tuple[Read, ...]]:
        """Queue the WATCH and the version (an owner) and the fresh reads; what `_store_prepare` takes."""
        if self._version_key is not None:
            if not self.cluster:  # on a cluster, the commit's V guard checks the version instead
                # Queued, not sent at once; spelled in lower case because redis-py marks a pipeline
                # that parses a "WATCH" reply as watching and sends UNWATCH when it is reset, which
                # dropped the WATCH before the commit (a lost update) and cost a round trip a batch.
                pipe.pipeline_execute_command("watch", self._version_key)
            pipe.get(self._version_key)
        return queue_reads(pipe, self._fresh_reads)

    def _store_prepare(self, answered: list[tuple[Read, ...]], replies: list[Any]) -> None:
        """`replies`: those of the commands `_queue_prepare` queued, the WATCH's excepted."""
        self._fresh.clear()
        if self._version_key is not None:
            version, replies = replies[0], replies[1:]
            if version != self._version or version is None:
                self._cache.clear()  # another writer (or none yet): trust nothing cached
                self._version = version
        store(answered, replies, self._cache, self._fresh, self._owner_prefix)
        self._prepared = True

    def _prepared_replies(self, answered: list[tuple[Read, ...]]) -> int:
        """How many replies at the end of the pipeline `_store_prepare` takes."""
        return len(answered) + (self._version_key is not None)

    def _prepare(self) -> None:
        """WATCH + version + fresh reads in a round trip of their own (ticks, claims, conflicts)."""
        pipe = self.conn.pipeline(transaction=False)
        answered = self._queue_prepare(pipe)
        replies = pipe.execute() if len(pipe) else []
        self._store_prepare(answered, replies[len(replies) - self._prepared_replies(answered) :])

    def flush_acks(self) -> None:
        if self._acks:
            pipe = self.conn.pipeline(transaction=False)
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
            deliveries |= self._deliveries(as_str(stream), items)
            self._cursor[as_str(stream)] = as_str(items[-1][0])
        return self._process(entries, deliveries=deliveries)

    def _claim_idle(self) -> int:
        """Take over entries idle past the limit (their consumer died) and handle them now."""
        handled = 0
        self._run_outbox()  # what a dead consumer committed in its owner's slot, before its entries
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
                cursor, entries = as_str(res[0]), res[1]
                for lost in res[2] if len(res) > 2 else ():
                    log.error(
                        "pending entry %s on %s was trimmed or deleted: its payload is lost",
                        as_str(lost),
                        stream,
                    )
                if entries:
                    log.warning("claimed %d idle entries on %s", len(entries), stream)
                    self._prepared = False
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
        return {as_str(p["message_id"]): int(p["times_delivered"]) for p in rows}

    # ---- handling --------------------------------------------------------------------------------

    def _process(self, reply: Iterable[Any], deliveries: dict[str, int] | None) -> int:
        entries = [
            (
                self.inputs[as_str(stream)],
                as_str(raw_id),
                fields,
                deliveries.get(as_str(raw_id), 1) if deliveries else 1,
            )
            for stream, items in reply
            for raw_id, fields in items
        ]
        if not entries:
            return 0
        self._note_read(entries)
        self._batches += 1
        self._maybe_fault("after_read")
        while True:
            if not self._prepared:
                self._prepare()
            batch = self._handle_batch(entries)
            self._maybe_fault("after_handle")
            if self._commit(batch.outputs, batch.ops):
                break
        if self.on_commit is not None and not self._sink_commit():
            return 0
        self._maybe_fault("after_commit")
        failures = self._counters.failures
        for stream, ids in batch.acks.items():
            self._acks.setdefault(stream, []).extend(ids)
            if failures:
                for i in ids:
                    failures.pop(i, None)
        self._counters.processed += batch.handled
        return batch.handled

    def _handle_batch(self, entries: list[tuple[Input, str, Any, int]]) -> _Batch:
        batch = _Batch()
        self._view.batch = Loaded()
        self._ctx.clock_ns = time.time_ns()
        limit = self.settings.max_entry_bytes
        decoded = [_decode(fields, inp.untrusted, limit) for inp, _id, fields, _n in entries]
        self._prefetch(entries, decoded)
        for (inp, entry_id, fields, n), env in zip(entries, decoded, strict=True):
            if self._handle_entry(batch, inp, entry_id, fields, n, env):
                batch.acks.setdefault(inp.stream, []).append(entry_id)
                batch.handled += 1
        return batch

    def _prefetch(self, entries: list[tuple[Input, str, Any, int]], decoded: list[Any]) -> None:
        reads: list[Read] = []
        for i, ((inp, *_), env) in enumerate(zip(entries, decoded, strict=True)):
            if inp.prefetch is None or not isinstance(env, Envelope):
                continue
            try:
                reads += inp.prefetch(env)
            except Exception as exc:  # what its handler would refuse too: dead-lettered, not a crash
                decoded[i] = _Unhandled(f"handler refused it: {type(exc).__name__}: {exc}", env)
        if reads:
            try:
                self._view.need(*reads)
            except Missing as m:
                self._load(m.reads)

    def _handle_entry(
        self, batch: _Batch, inp: Input, entry_id: str, fields: Any, deliveries: int, env: Any
    ) -> bool:
        """Queue the entry's outputs and writes (or its dead letter); True when it may be acknowledged."""
        if fields is None:  # trimmed or deleted while pending (Redis 6.2 returns it as nil)
            log.error("entry %s on %s was deleted while pending: its payload is lost", entry_id, inp.stream)
            return True
        limit = self.settings.max_deliveries
        if isinstance(env, _Unhandled):
            self._dead_letter(batch, inp, entry_id, fields, deliveries, env)
            return True
        if deliveries > limit:
            reason = f"delivered {deliveries} times (limit {limit}) without being acknowledged"
            self._dead_letter(batch, inp, entry_id, fields, deliveries, _Unhandled(reason, env))
            return True
        started = time.perf_counter()
        ctx = self._context(inp.stream, entry_id, deliveries)
        try:
            result = self._call(lambda: inp.handler(env, ctx))
        except TRANSIENT as exc:
            if deliveries >= limit:
                reason = f"I/O error on delivery {deliveries} of {limit}: {type(exc).__name__}: {exc}"
                self._dead_letter(batch, inp, entry_id, fields, deliveries, _Unhandled(reason, env))
                return True
            self._retry_later(inp.stream, entry_id, deliveries, exc)
            return False
        except Exception as exc:
            metrics.HANDLER_FAILURES.labels(self._label, inp.stream).inc()
            reason = f"handler refused it: {type(exc).__name__}: {exc}"
            self._dead_letter(batch, inp, entry_id, fields, deliveries, _Unhandled(reason, env))
            return True
        self._m_handler.observe(time.perf_counter() - started)
        batch.outputs += result.outputs
        self._add_writes(batch.ops, result.writes.ops)
        self._m_published.inc(len(result.outputs))
        return True

    def _sink_commit(self) -> bool:
        assert self.on_commit is not None
        try:
            self.on_commit()
        except Exception:
            log.exception("the batch's commit failed: nothing of it is acknowledged, it will be read again")
            self._retry_at = time.monotonic() + 1.0
            return False
        return True

    def _call(self, fn: Callable[[], Result | Iterable[Output]]) -> Result:
        """Run a handler or tick, loading what it reads until it has everything."""
        for _ in range(_MAX_LOADS):
            try:
                got = fn()
                return got if isinstance(got, Result) else Result(list(got))
            except Missing as m:
                self._load(m.reads)
        raise RuntimeError(f"still reading unloaded state after {_MAX_LOADS} loads")

    def _load(self, reads: Sequence[Read]) -> None:
        pipe = self.conn.pipeline(transaction=False)
        answered = queue_reads(pipe, reads)
        store(answered, pipe.execute(), self._cache, self._fresh, self._owner_prefix)

    def _retry_later(self, stream: str, entry_id: str, deliveries: int, exc: BaseException) -> None:
        metrics.HANDLER_FAILURES.labels(self._label, stream).inc()
        failures = self._counters.failures[entry_id] = self._counters.failures.get(entry_id, 0) + 1
        log.warning("I/O error on %s %s (delivery %d), will retry: %r", stream, entry_id, deliveries, exc)
        retry_at = time.monotonic() + min(0.05 * 2**failures, 5.0)
        self._retry_at = retry_at if self._retry_at is None else min(self._retry_at, retry_at)

    # ---- commit ----------------------------------------------------------------------------------

    def _commit(self, outputs: list[Output], ops: list[Op]) -> bool:
        """Write outputs and state together; False when another writer changed the state (handle again)."""
        self._prepared = False
        version = None
        if ops and self._version_key is not None:
            self._commits += 1
            version = f"{self._token}:{self._commits}".encode()  # never a value another writer uses
            ops = [*ops, *Writes().set(self._version_key, version)]
        p = commit.plan(outputs, ops)
        if p.commands == 0:
            return True
        if not (self._commit_slots(p, outputs) if self.cluster else self._commit_once(p, outputs, ops)):
            return False
        if version is not None:
            self._version = version
        self._cache.apply(o for o in ops if self._owner_prefix and o[1].startswith(self._owner_prefix))
        if self._cache.size() > _CACHE_MAX:
            self._cache.clear()
            self._version = None
        return True

    def _commit_once(self, p: commit.Plan, outputs: list[Output], ops: list[Op]) -> bool:
        """One server: every call in one MULTI/EXEC, refused if the WATCHed version changed."""
        atomic = self._version_key is not None or p.commands > 1
        pipe = self.conn.pipeline(transaction=False)
        if atomic:
            pipe.pipeline_execute_command("MULTI")
        commit.queue(pipe, p, outputs, self.settings.dedupe_ttl_ms)
        if atomic:
            pipe.pipeline_execute_command("EXEC")
        wait = self.settings.wait_replicas
        if wait:
            pipe.pipeline_execute_command("WAIT", wait, self.settings.wait_timeout_ms)
        try:
            replies = pipe.execute()
        except (redis.exceptions.NoScriptError, redis.exceptions.ExecAbortError):
            self.client.script_load(commit.APPLY.source)  # flushed: nothing of the EXEC ran
            return False
        if wait and replies.pop() < wait:
            metrics.REPLICATION_SHORT.labels(self._label).inc()
            log.warning(
                "a commit reached fewer than %d replicas within %d ms", wait, self.settings.wait_timeout_ms
            )
        if atomic and replies[-1] is None:
            return self._conflict()
        inner = replies[-1] if atomic else replies
        errors = [r for r in inner if isinstance(r, Exception)]
        if errors:
            raise errors[0]
        return True

    def _commit_slots(self, p: commit.Plan, outputs: list[Output]) -> bool:
        """A cluster: the owner's slot first (version guard, state, outbox), then the other slots."""
        ttl = self.settings.dedupe_ttl_ms
        owner = next((c for c in p.calls if self._version_key in c.index), None)
        others = [c for c in p.calls if c is not owner]
        if owner is not None and self._version_key is not None and self._outbox_key is not None:
            owner.guard(self._version_key, self._version)
            entry = f"{self.consumer}:{self._token}:{self._commits}"
            if others:
                owner.args += ["H", owner.key(self._outbox_key), entry, commit.pack(others, ttl)]
            for done in self._outbox_done:
                owner.args += ["D", owner.key(self._outbox_key), done, ""]
            reply = run_pipeline(
                self.conn, lambda pipe: commit.APPLY.queue(pipe, owner.keys, [str(ttl), *owner.args]),
                [commit.APPLY],
            )  # fmt: skip
            if reply[0] == -1:
                return self._conflict()
            self._outbox_done = [entry] if others else []
            self._maybe_fault("mid_commit")
        rest = commit.Plan(others, p.plain)
        if rest.commands:
            run_pipeline(self.conn, lambda pipe: commit.queue(pipe, rest, outputs, ttl), [commit.APPLY])
        return True

    def _conflict(self) -> bool:
        self._counters.conflicts += 1
        log.info("state changed by another writer during the batch: handling it again")
        self._cache.clear()
        return False

    def _run_outbox(self) -> None:
        """A cluster: run every outbox entry of this stage's owner (left by a crash), then remove it."""
        if not self.cluster or self._outbox_key is None:
            return
        for entry, packed in self.client.hgetall(self._outbox_key).items():
            log.warning("running the outbox entry %s (a commit cut short)", as_str(entry))
            commit.run_packed(self.client, as_bytes(packed))
            self.client.hdel(self._outbox_key, entry)

    # ---- ticks, faults, dead letters -------------------------------------------------------------

    def _run_tick(self) -> None:
        """Periodic work, committed like a batch (fault points included, for the crash tests)."""
        ctx = self._context(None, None, 0)
        for _ in range(_MAX_LOADS):
            self._prepare()
            self._view.batch = Loaded()
            ctx.clock_ns = time.time_ns()
            try:
                result = self._call(lambda: self._tick(ctx))  # type: ignore[misc]
            except (redis.ConnectionError, redis.TimeoutError):
                raise
            except Exception:
                log.exception("periodic work failed; the service goes on")
                return
            ops: list[Op] = []
            self._add_writes(ops, result.writes.ops)
            if not result.outputs and not ops:
                return
            if not self.inputs:
                self._batches += 1  # a tick-only stage: its ticks are its batches
            self._maybe_fault("after_handle")
            if self._commit(result.outputs, ops):
                self._maybe_fault("after_commit")
                return

    def _fault_due(self, point: str) -> bool:
        s = self.settings
        return s.fault_kill_batch == self._batches and s.fault_kill_at in (
            point,
            "after_publish" if point == "after_commit" else point,
        )

    def _maybe_fault(self, point: str) -> None:
        if self._fault_due(point):
            log.critical("fault injection: SIGKILL %s", point)
            os.kill(os.getpid(), signal.SIGKILL)

    def _dead_letter(
        self, batch: _Batch, inp: Input, entry_id: str, fields: Any, deliveries: int, why: _Unhandled
    ) -> None:
        """The entry's dead letter (unless its input keeps it itself) and its input's answer to it,
        both queued with the batch's outputs, committed together."""
        stream, reason = inp.stream, why.reason
        if inp.dead_letters:
            log.error("dead-lettering %s %s: %s", stream, entry_id, reason[:2000])
            dl = dead_letter(
                self.names, self.group, self.consumer, stream, entry_id, fields, deliveries, reason,
                self.settings.max_entry_bytes,
            )  # fmt: skip
            batch.outputs.append(dl)
            metrics.DEAD_LETTERED.labels(self._label, stream).inc()
            self._counters.dead_lettered += 1
        hook = inp.on_dead_letter
        if hook is None:
            return
        rejected = Rejected(stream, entry_id, fields, reason, why.envelope, why.oversized)
        ctx = self._context(stream, entry_id, deliveries)
        try:
            result = self._call(lambda: hook(rejected, ctx))
        except (redis.ConnectionError, redis.TimeoutError):
            raise
        except Exception:  # a broken hook must not stop the stream: the dead letter stands alone
            log.exception("the dead-letter hook of %s failed for %s", stream, entry_id)
            return
        batch.outputs += result.outputs
        self._add_writes(batch.ops, result.writes.ops)

    def _add_writes(self, ops: list[Op], new: list[Op]) -> None:
        """Queue `new` for the commit, less the writes that change nothing (see StateView.unchanged);
        the batch's later messages see them."""
        view = self._view
        needed = [op for op in new if not view.unchanged(op)] if self._owner_prefix else new
        ops += needed
        view.batch.apply(needed)

    def _context(self, stream: str | None, entry_id: str | None, deliveries: int) -> Context:
        """The handler's context. One object is reused on the hot path (handlers must not keep it)."""
        ctx = self._ctx
        ctx.stream, ctx.entry_id, ctx.deliveries = stream, entry_id, deliveries
        suspect = self._suspect.get(stream) if self._suspect and stream else None
        ctx.maybe_handled = deliveries > 1 or (
            suspect is not None and entry_id is not None and entry_key(entry_id) <= suspect
        )
        return ctx

    # ---- upkeep ----------------------------------------------------------------------------------

    def _recreate_groups(self) -> None:
        for inp in self.inputs.values():
            if ensure_group(self.client, inp.stream, self.group, inp.start_id):
                metrics.GROUPS_RECREATED.labels(self._label, inp.stream).inc()
                self._alarm(
                    "group_recreated",
                    inp.stream,
                    f"consumer group {self.group} on {inp.stream} vanished and was recreated; "
                    "pending and unread entries may be lost: reconcile every venue",
                )
        self._enter_pending_mode()

    def _alarm(self, kind: str, stream: str, text: str) -> None:
        """A critical event about lost data on `stream`, then `on_group_lost` (adapters reconcile)."""
        log.critical("%s", text)
        ctx = self._context(stream, None, 0)
        event_id = f"{kind}:{stream}:{self.group}:{self.consumer}:{time.time_ns()}"
        event = ctx.event(kind, text, severity=Severity.CRITICAL, event_id=event_id, data={"stream": stream})
        self.publisher.publish([event])
        if self.on_group_lost is not None:
            self.on_group_lost(stream)

    def _note_read(self, entries: Sequence[tuple[Input, str, Any, int]]) -> None:
        high = self._high
        for inp, entry_id, _fields, _n in entries:
            if inp.start_id == "$":
                continue  # read from its end (market data): best effort, a loss is no alarm
            key = entry_key(entry_id)
            if key > high.get(inp.stream, (0, 0)):
                high[inp.stream] = key

    def _check_lost(self) -> None:
        """After a reconnect: each input whose stream or group is behind what this consumer had read
        lost acknowledged writes (a failover to a replica that had not received them)."""
        for stream, read in list(self._high.items()):
            last, delivered = stream_position(self.client, stream, self.group)
            if min(last, delivered) >= read:
                continue
            metrics.DATA_LOSS.labels(self._label, stream).inc()
            self._suspect[stream] = max(read, self._suspect.get(stream, (0, 0)))
            self._alarm(
                "data_loss",
                stream,
                f"{stream} ends at {_id_text(last)} and group {self.group} at {_id_text(delivered)}, "
                f"below {_id_text(read)} that {self.consumer} had read: writes acknowledged before a "
                "failover or restart were lost; reconcile every venue",
            )
        self._high = {}

    def _beat(self) -> None:
        detail = self.heartbeat_detail() if self.heartbeat_detail else {}
        self.heartbeat.beat(
            processed=self._counters.processed, dead_lettered=self._counters.dead_lettered, detail=detail
        )
        for stream in self.inputs:
            try:
                for g in self.client.xinfo_groups(stream):
                    if as_str(g["name"]) == self.group:
                        metrics.PENDING.labels(self._label, stream).set(int(g["pending"]))
                        lag = group_lag(self.client, stream, g)  # XINFO's own is stale after a restart
                        if lag is not None:
                            metrics.CONSUMER_LAG.labels(self._label, stream).set(lag)
            except redis.ResponseError:
                pass

    def _trim(self) -> None:
        cutoff_ms = int(time.time() * 1000) - self.settings.retention_ms
        for inp in self.inputs.values():
            if inp.trim:
                safe_trim(self.client, inp.stream, cutoff_ms)


def _decode(fields: Any, untrusted: bool, limit: int) -> Envelope[Message] | _Unhandled | None:
    if fields is None:
        return None
    if sum(map(len, fields.values())) > limit:  # the values: names are checked if it is dead-lettered
        return _Unhandled(oversized_reason(fields, entry_size(fields), limit), oversized=True)
    try:
        return decode(fields, validate=untrusted)
    except DecodeError as exc:
        return _Unhandled(f"invalid entry: {exc}")


def entry_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _id_text(key: tuple[int, int]) -> str:
    return f"{key[0]}-{key[1]}"


def stream_position(client: redis.Redis, stream: str, group: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """The stream's last id and `group`'s last-delivered id ((0, 0) for what does not exist)."""
    try:
        last = entry_key(as_str(client.xinfo_stream(stream)["last-generated-id"]))
        groups = client.xinfo_groups(stream)
    except redis.ResponseError:  # no such key: the stream itself was lost
        return (0, 0), (0, 0)
    mine = [g for g in groups if as_str(g["name"]) == group]
    return last, entry_key(as_str(mine[0]["last-delivered-id"])) if mine else (0, 0)
