"""Client: meterd's API as typed calls. Thread-safe; each thread keeps its own keep-alive
connection. Errors are raised as MeterdError (QuotaExceeded for 429, MeterdUnavailable when
meterd cannot be reached or answers 503), carrying meterd's problem body."""
import urllib.parse

from . import models
from ._http import Transport, dumps, encode_decimal, encode_time, error_for, loads


def _quote(segment):
    return urllib.parse.quote(segment, safe="")


def event_body(tenant_id, event_type, quantity=1, metadata=None, id=None, timestamp=None):
    """One event as meterd's /v1/events object (quantities as exact decimal strings)."""
    event = {"tenant_id": tenant_id, "event_type": event_type, "quantity": encode_decimal(quantity)}
    if id is not None:
        event["id"] = id
    if timestamp is not None:
        event["timestamp"] = encode_time(timestamp)
    if metadata:
        event["metadata"] = metadata
    return event


class Client:
    def __init__(self, url=None, api_key=None, timeout=10.0):
        """url: meterd's base URL (default $METERD_URL, else http://127.0.0.1:8000); api_key:
        a Bearer key (default $METERD_API_KEY; none when meterd runs without keys)."""
        self._t = Transport(url, api_key, timeout)

    @property
    def url(self):
        return self._t.url

    def close(self):
        """Closes the connections of every thread."""
        self._t.close_all()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def health(self) -> dict:
        return self._t.call("GET", "/health")

    # --- events --------------------------------------------------------------------------------
    def track(self, tenant_id, event_type, quantity=1, metadata=None, *, id=None, timestamp=None) -> models.TrackResult:
        """Stores one event and returns once meterd has it on disk (a round trip: for the request
        path use UsageTracker, which never waits). Raises QuotaExceeded when a hard quota refuses it."""
        body = event_body(tenant_id, event_type, quantity, metadata, id, timestamp)
        return models.TrackResult.from_json(self._t.call("POST", "/track", body))

    def send_events(self, events) -> models.BatchResult:
        """Stores a batch (dicts as event_body() makes them, or raw NDJSON text); per-event results.
        Partly rejected batches return normally (see .rejected); raises when none was stored."""
        if isinstance(events, str):
            status, h, data = self._t.request("POST", "/v1/events", events, "application/x-ndjson")
        else:
            status, h, data = self._t.request("POST", "/v1/events", dumps(list(events)))
        if status >= 400:
            raise error_for(status, h, data)
        return models.BatchResult.from_json(loads(data))

    # --- quotas --------------------------------------------------------------------------------
    def check_quota(self, tenant_id) -> models.QuotaStatus:
        return models.QuotaStatus.from_json(self._t.call("POST", "/quota/check", {"tenant_id": tenant_id}))

    def set_quota(self, tenant_id, *, queries_per_day=None, queries_per_month=None, tokens_per_day=None,
                  tokens_per_month=None, storage_gb=None, storage_gb_per_month=None, time_zone=None,
                  enforcement=None) -> models.QuotaSettings:
        """Changes the given limits (others stay); enforcement "soft" or "hard". Needs an admin key."""
        body = {"tenant_id": tenant_id}
        limits = dict(queries_per_day=queries_per_day, queries_per_month=queries_per_month,
                      tokens_per_day=tokens_per_day, tokens_per_month=tokens_per_month, storage_gb=storage_gb,
                      storage_gb_per_month=storage_gb_per_month)
        body.update({k: encode_decimal(v) for k, v in limits.items() if v is not None})
        if time_zone is not None:
            body["time_zone"] = time_zone
        if enforcement is not None:
            body["enforcement"] = enforcement
        return models.QuotaSettings.from_json(self._t.call("POST", "/quota/set", body))

    def quota_settings(self, tenant_id) -> models.QuotaSettings:
        return models.QuotaSettings.from_json(self._t.call("GET", "/v1/tenants/%s/quotas" % _quote(tenant_id)))

    # --- usage ---------------------------------------------------------------------------------
    def usage(self, tenant_id, *, start=None, end=None, window="day", event_type=None, time_zone=None,
              group_by=None) -> models.Usage:
        """Usage from the rollups: start/end as datetime, date, RFC 3339 or epoch ms (end exclusive;
        defaults: this month so far); window "hour", "day" or "month"."""
        query = {"tenant_id": tenant_id, "window": window, "event_type": event_type, "time_zone": time_zone,
                 "group_by": group_by, "from": None if start is None else encode_time(start),
                 "to": None if end is None else encode_time(end)}
        return models.Usage.from_json(self._t.call("GET", "/v1/usage", query=query))

    # --- invoices and plans --------------------------------------------------------------------
    def invoice(self, tenant_id, year, month, format="json"):
        """The month's invoice: an Invoice for format="json", the CSV text for format="csv"."""
        path = "/v1/tenants/%s/invoices/%04d-%02d" % (_quote(tenant_id), int(year), int(month))
        if format == "csv":
            return self._t.call("GET", path, query={"format": "csv"})
        if format != "json":
            raise ValueError("format must be 'json' or 'csv', not %r" % (format,))
        return models.Invoice.from_json(self._t.call("GET", path))

    def finalize_invoice(self, tenant_id, year, month) -> models.Invoice:
        """Freezes a month that has ended (admin key); later reads return it byte for byte."""
        path = "/v1/tenants/%s/invoices/%04d-%02d/finalize" % (_quote(tenant_id), int(year), int(month))
        return models.Invoice.from_json(self._t.call("POST", path))

    def plans(self) -> dict:
        return self._t.call("GET", "/v1/plans")

    def set_plan(self, tenant_id, plan) -> dict:
        return self._t.call("PUT", "/v1/tenants/%s/plan" % _quote(tenant_id), {"plan": plan})

    def alerts(self, tenant_id=None, limit=100) -> list:
        return self._t.call("GET", "/v1/alerts", query={"tenant_id": tenant_id, "limit": limit})["alerts"]
