"""UsageTracker: metering from inside a Python service without waiting for the network.

track() puts the event in memory and returns (a few microseconds, never a network call); a
background thread sends batches to meterd's /v1/events (batch_size events, or every
flush_interval seconds), retries with exponential backoff, and while meterd cannot be reached
appends batches to a spill file that it ships once meterd is back. Every event carries an id
made here, so whatever is sent twice is stored once. At exit the buffer is shipped (or
spilled). The defaults come from the old module's variables: BUFFER_SIZE,
FLUSH_INTERVAL_SECONDS, FALLBACK_FILE_PATH; meterd's address from METERD_URL and
METERD_API_KEY."""
import atexit
import collections
import dataclasses
import json
import logging
import os
import re
import threading
import time
import weakref

from ._http import Transport, encode_decimal, encode_time, error_for, loads
from ._ids import new_event_id
from .errors import MeterdError
from .spill import SpillFile

log = logging.getLogger("meterd")

# track() accepts these as they are; anything else goes through encode_decimal().
_EXACT = (int,)
_COUNTS = re.compile(rb'"accepted":(\d+),"duplicates":(\d+),"rejected":0\}\s*$')


@dataclasses.dataclass
class TrackerStats:
    tracked: int = 0  # accepted by track()
    sent: int = 0  # acknowledged by meterd (stored, or already stored)
    rejected: int = 0  # refused by meterd as invalid or over a hard quota (never retried)
    spilled: int = 0  # written to the spill file
    send_failures: int = 0
    last_error: str = ""


class UsageTracker:
    def __init__(self, url=None, api_key=None, *, batch_size=None, flush_interval=None, spill_path=None,
                 capacity=100_000, timeout=10.0, retry_backoff=0.5, max_backoff=30.0):
        self.batch_size = int(batch_size or os.environ.get("BUFFER_SIZE") or 100)
        self.flush_interval = float(flush_interval or os.environ.get("FLUSH_INTERVAL_SECONDS") or 1.0)
        if not 1 <= self.batch_size <= 10_000:
            raise ValueError("batch_size must be 1..10000 (meterd takes at most 10,000 events a request)")
        self.capacity = capacity
        self._transport = Transport(url, api_key, timeout)
        self._spill = SpillFile(spill_path or os.environ.get("FALLBACK_FILE_PATH") or "meterd-spill.jsonl")
        self._retry_backoff = retry_backoff
        self._max_backoff = max_backoff
        self._backoff = 0.0
        self._retry_at = 0.0  # monotonic time before which meterd is not tried (after a failure)
        self._queue = collections.deque()
        self._wake = threading.Event()
        self._stats = TrackerStats()
        self._popped = 0  # events the sender took off the queue
        self._flush = threading.Condition()
        self._flush_wanted = 0
        self._flush_done = 0
        self._stopping = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="meterd-tracker", daemon=True)
        self._thread.start()
        # At exit, ship what is buffered; a weak reference, so the tracker can still be collected.
        ref = weakref.ref(self)
        self._atexit = lambda: ref() is not None and ref().close()
        atexit.register(self._atexit)

    @property
    def url(self):
        return self._transport.url

    @property
    def spill_path(self):
        return self._spill.path

    # --- the caller's side: never waits for I/O --------------------------------------------------
    def track(self, tenant_id, event_type, quantity=1, metadata=None, *, id=None, timestamp=None):
        """Queues one event and returns its id. quantity: int, decimal.Decimal or a decimal string
        (a float is taken as its shortest repr: 0.1 is 0.1); timestamp: datetime (naive = UTC) or
        epoch ms, default now; metadata: a JSON-serializable dict."""
        if self._closed:
            raise RuntimeError("this UsageTracker is closed")
        if not tenant_id or not event_type:
            raise ValueError("tenant_id and event_type are required")
        if type(quantity) not in _EXACT:
            quantity = encode_decimal(quantity)
        elif quantity < 0:
            raise ValueError("quantity must not be negative")
        now_ms = time.time_ns() // 1_000_000
        ts = now_ms if timestamp is None else encode_time(timestamp)
        event_id = id or new_event_id(now_ms)
        self._queue.append((event_id, tenant_id, event_type, quantity, ts, metadata))
        if len(self._queue) >= self.batch_size and not self._wake.is_set():
            self._wake.set()
        return event_id

    # The old module's helpers.
    def track_query(self, tenant_id, endpoint=None, **metadata):
        """One `query` event (what quotas count as queries)."""
        if endpoint is not None:
            metadata["endpoint"] = endpoint
        return self.track(tenant_id, "query", 1, metadata or None)

    def track_tokens(self, tenant_id, input_tokens=0, output_tokens=0, model=None, **metadata):
        """`input_tokens` and `output_tokens` events (zero counts are skipped); returns their ids."""
        if model is not None:
            metadata["model"] = model
        ids = []
        for event_type, n in (("input_tokens", input_tokens), ("output_tokens", output_tokens)):
            if n:
                ids.append(self.track(tenant_id, event_type, n, metadata or None))
        return ids

    def track_storage(self, tenant_id, gb, **metadata):
        """A `storage_gb` reading: a gauge, billed as the month's average of daily maxima."""
        return self.track(tenant_id, "storage_gb", gb, metadata or None)

    def flush(self, timeout=None):
        """Waits until everything tracked before the call was sent or spilled and, when meterd is
        reachable, the spill file shipped. False on timeout."""
        with self._flush:
            self._flush_wanted += 1
            target = self._flush_wanted
            self._wake.set()
            return self._flush.wait_for(lambda: self._flush_done >= target or not self._thread.is_alive(), timeout)

    def close(self, timeout=30.0):
        """Ships what is buffered (spilling what meterd does not take), then stops the thread."""
        if self._closed:
            return
        self._closed = True
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        atexit.unregister(self._atexit)
        self._transport.close_all()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def stats(self) -> TrackerStats:
        s = dataclasses.replace(self._stats)
        s.tracked = self._popped + len(self._queue)
        return s

    # --- the sender thread ---------------------------------------------------------------------
    def _run(self):
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            with self._flush:
                wanted = self._flush_wanted
            stopping = self._stopping
            try:
                self._drain(force=wanted > self._flush_done or stopping)
            except Exception as e:  # never let the thread die: events would pile up unseen
                log.exception("meterd tracker: unexpected error")
                self._stats.last_error = repr(e)
            with self._flush:
                self._flush_done = max(self._flush_done, wanted)
                self._flush.notify_all()
            if stopping and not self._queue:
                return

    def _drain(self, force):
        # Overflow: beyond capacity, the oldest batches go to the spill file at once.
        while len(self._queue) > self.capacity:
            self._spill_batch(self._encode(self._take()))
        if self._queue or self._spill.pending():
            self._deliver_all(force)

    def _take(self):
        batch = []
        queue = self._queue
        for _ in range(min(self.batch_size, len(queue))):
            batch.append(queue.popleft())
        self._popped += len(batch)
        return batch

    def _encode(self, batch):
        lines = []
        for i, (event_id, tenant, event_type, quantity, ts, metadata) in enumerate(batch):
            event = {"id": event_id, "tenant_id": tenant, "event_type": event_type, "quantity": quantity,
                     "timestamp": ts}
            if metadata:
                event["metadata"] = metadata
            lines.append(json.dumps(event, separators=(",", ":"), default=str))
            if i % 8 == 7:
                time.sleep(0)  # hand the GIL to the application's threads every few events
        return "\n".join(lines) + "\n"

    def _deliver_all(self, force):
        reachable = force or time.monotonic() >= self._retry_at
        if reachable and self._spill.pending():
            try:
                self._spill.ship(self._send, self.batch_size)
            except MeterdError as e:
                self._failed(e)
                reachable = False
        while self._queue:
            text = self._encode(self._take())
            if reachable:
                try:
                    self._send(text)
                    continue
                except MeterdError as e:
                    self._failed(e)
                    reachable = False
            self._spill_batch(text)

    def _send(self, ndjson):
        """Sends one batch; returns when meterd took it. Raises MeterdError when it should be
        retried later (unreachable, 5xx, rate limited, a key problem)."""
        status, headers, data = self._transport.request("POST", "/v1/events", ndjson, "application/x-ndjson")
        body = None
        counts = _COUNTS.search(data, max(0, len(data) - 100)) if status == 200 else None
        if counts:  # all stored: the counts at the end are all it needs (parsing every result holds the GIL)
            body = {"accepted": counts[1], "duplicates": counts[2], "rejected": 0, "results": ()}
        else:
            try:
                body = loads(data)
            except ValueError:
                pass
        if isinstance(body, dict) and "results" in body:  # 200, 207, or 400/429 with every event refused
            self._stats.sent += int(body["accepted"]) + int(body["duplicates"])
            rejected = int(body["rejected"])
            if rejected:
                self._stats.rejected += rejected
                first = next(r for r in body["results"] if r["status"] == "rejected")
                self._stats.last_error = "meterd rejected %d events; the first: %s" % (rejected, first["error"])
                log.warning("meterd tracker: %s", self._stats.last_error)
            self._backoff = 0.0
            return
        raise error_for(status, headers, data)

    def _failed(self, error):
        self._stats.send_failures += 1
        self._stats.last_error = str(error)
        self._backoff = min(self._max_backoff, max(self._retry_backoff, self._backoff * 2))
        wait = max(self._backoff, error.retry_after or 0)
        self._retry_at = time.monotonic() + wait
        log.warning("meterd tracker: %s; spilling to %s, retrying in %.1f s", error, self._spill.path, wait)

    def _spill_batch(self, text):
        try:
            self._spill.append(text)
            self._stats.spilled += text.count("\n")
        except OSError as e:
            self._stats.last_error = "cannot write the spill file %s: %s" % (self._spill.path, e)
            log.error("meterd tracker: %s; %d events lost", self._stats.last_error, text.count("\n"))
