"""MeteringMiddleware: meters every request of an ASGI app (FastAPI, Starlette) and answers 429
when a hard quota says no.

    app.add_middleware(MeteringMiddleware, tracker=tracker, client=client,
                       tenant_of=lambda scope: dict(scope["headers"]).get(b"x-tenant-id", b"").decode() or None)

For each request, tenant_of(scope) names the tenant (None: not metered). Two admission modes:

- admission="check" (default): the tenant's quota is read from meterd (/quota/check, cached for
  quota_cache_seconds per tenant, read on a worker thread); a hard quota at or over its limit
  answers 429 with Retry-After until the period resets. Otherwise the app runs, and a response
  whose status is in track_statuses is tracked through the UsageTracker, without waiting.
  meterd still refuses events past a hard limit, so usage and invoices stay exact; the app may
  serve requests during the cache's lag.
- admission="track": the request's event is stored with /track before the app runs (a durable
  round trip, about a millisecond on one machine); meterd's 429 is passed on. Exact: N requests
  racing at a limit get exactly the limit admitted. Refused or failed requests are counted too.

When meterd cannot be reached, requests go through (fail_open=True) and, in "track" mode, the
event goes to the tracker, which spills it until meterd is back."""
import asyncio
import inspect
import json
import math
import time

from .errors import MeterdError, MeterdUnavailable, QuotaExceeded

# Which quota meter an event type counts toward (meterd's quota/limits.h).
_METER_OF = {"query": "queries", "input_tokens": "tokens", "output_tokens": "tokens", "tokens": "tokens",
             "storage_gb": "storage_gb"}
_MAX_CACHED_TENANTS = 100_000


class MeteringMiddleware:
    def __init__(self, app, *, tracker, tenant_of, client=None, event_type="query", admission="check",
                 metadata_of=None, track_statuses=range(200, 400), quota_cache_seconds=1.0, fail_open=True):
        if admission not in ("check", "track"):
            raise ValueError("admission must be 'check' or 'track'")
        if client is None:
            from .client import Client
            client = Client(tracker.url, tracker._transport.api_key)
        self.app = app
        self.tracker = tracker
        self.client = client
        self.tenant_of = tenant_of
        self.event_type = event_type
        self.admission = admission
        self.metadata_of = metadata_of or (lambda scope: {"endpoint": scope.get("path", ""),
                                                          "method": scope.get("method", "")})
        self.track_statuses = track_statuses
        self.quota_cache_seconds = quota_cache_seconds
        self.fail_open = fail_open
        self._refusals = {}  # tenant -> (refuse until (monotonic), resets at (epoch s), detail)
        self._checked = {}  # tenant -> when its quota was last read and found open

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        tenant = self.tenant_of(scope)
        if inspect.isawaitable(tenant):
            tenant = await tenant
        if not tenant:
            return await self.app(scope, receive, send)
        metadata = self.metadata_of(scope)
        if self.admission == "track":
            refusal = await self._admit_by_tracking(tenant, metadata)
            if refusal is not None:
                return await self._refuse(send, *refusal)
            return await self.app(scope, receive, send)
        refusal = await self._admit_by_checking(tenant)
        if refusal is not None:
            return await self._refuse(send, *refusal)
        status = {}

        async def send_and_watch(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, send_and_watch)
        if status.get("code") in self.track_statuses:
            self.tracker.track(tenant, self.event_type, 1, dict(metadata, status=status["code"]))

    async def _admit_by_tracking(self, tenant, metadata):
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, lambda: self.client.track(tenant, self.event_type, 1, metadata))
        except QuotaExceeded as e:
            return 429, math.ceil(e.retry_after or 1), e.detail
        except MeterdUnavailable:
            if not self.fail_open:
                return 503, 5, "metering is unavailable"
            self.tracker.track(tenant, self.event_type, 1, metadata)
        return None

    async def _admit_by_checking(self, tenant):
        now = time.monotonic()
        refused = self._refusals.get(tenant)
        if refused is not None and now < refused[0]:
            return 429, max(1, math.ceil(refused[1] - time.time())), refused[2]
        if now - self._checked.get(tenant, -math.inf) < self.quota_cache_seconds:
            return None
        loop = asyncio.get_running_loop()
        try:
            status = await loop.run_in_executor(None, self.client.check_quota, tenant)
        except MeterdError:
            return None if self.fail_open else (503, 5, "metering is unavailable")
        if len(self._checked) >= _MAX_CACHED_TENANTS:
            self._checked.clear()
            self._refusals.clear()
        self._checked[tenant] = now
        meter = _METER_OF.get(self.event_type)
        daily, monthly = status.quotas.get(meter), status.monthly.get(meter)
        if meter is None:
            blocked, resets = not status.within_quota or status.at_limit, status.resets_at
        elif monthly is not None and (monthly.at_limit or monthly.exceeded):
            blocked, resets = True, status.monthly_resets_at
        else:
            blocked, resets = daily is not None and (daily.at_limit or daily.exceeded), status.resets_at
        if not status.hard or not blocked:
            self._refusals.pop(tenant, None)
            return None
        resets_at = resets.timestamp() if resets else time.time() + 1
        wait = max(1.0, resets_at - time.time())
        detail = "tenant %s is at its %s limit; it resets at %s" % (tenant, meter or "quota",
                                                                   resets.isoformat() if resets else "?")
        # Asked again after the cache's time, so that a raised limit opens the door soon.
        self._refusals[tenant] = (now + min(wait, self.quota_cache_seconds), resets_at, detail)
        return 429, math.ceil(wait), detail

    @staticmethod
    async def _refuse(send, status, retry_after, detail):
        title = "Too Many Requests" if status == 429 else "Service Unavailable"
        body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"retry-after", str(retry_after).encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
