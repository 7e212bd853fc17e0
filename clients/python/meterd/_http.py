"""HTTP to meterd with the standard library: one keep-alive connection per thread, JSON with
exact decimals both ways, errors raised as MeterdError carrying meterd's problem body."""
import datetime
import decimal
import http.client
import json
import os
import threading
import urllib.parse
import weakref

from .errors import MeterdError, MeterdUnavailable, QuotaExceeded

DEFAULT_URL = "http://127.0.0.1:8000"


def encode_decimal(value):
    """A Decimal, int or float as the exact decimal text meterd reads (no exponent). A float is
    taken as its shortest repr, i.e. what the program wrote: 0.1 is "0.1"."""
    if isinstance(value, bool):
        raise TypeError("a quantity must be a number, not a bool")
    if isinstance(value, float):
        value = decimal.Decimal(repr(value))
    elif isinstance(value, int):
        return str(value)
    elif isinstance(value, str):
        value = decimal.Decimal(value)
    if not isinstance(value, decimal.Decimal) or not value.is_finite():
        raise TypeError("expected a finite decimal, not %r" % (value,))
    return format(value, "f")


def encode_time(value):
    """RFC 3339 (or epoch milliseconds for an int); a naive datetime is UTC, as meterd reads it."""
    if isinstance(value, int):
        return value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _json_default(value):
    if isinstance(value, decimal.Decimal):
        return encode_decimal(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return encode_time(value)
    raise TypeError("%r is not JSON serializable" % (value,))


def dumps(value):
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def loads(raw):
    """JSON with every number as a Decimal (meterd's decimals are strings; counts stay exact too)."""
    return json.loads(raw, parse_float=decimal.Decimal)


class _Held:
    """A thread's connection; closed when the thread ends (its thread-local storage goes)."""

    __slots__ = ("conn", "used", "__weakref__")

    def __init__(self):
        self.conn = None
        self.used = False

    def __del__(self):
        if self.conn is not None:
            self.conn.close()


class Transport:
    def __init__(self, url=None, api_key=None, timeout=10.0):
        self.url = (url or os.environ.get("METERD_URL") or DEFAULT_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("METERD_API_KEY", "")
        self.timeout = timeout
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("meterd URL must be http:// or https://, not %r" % self.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path
        self._local = threading.local()
        self._connections = weakref.WeakSet()  # every thread's, closed together by close_all()

    def _held(self):
        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = _Held()
        return held

    def _connection(self):
        held = self._held()
        if held.conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            held.conn = cls(self._host, self._port, timeout=self.timeout)
            held.used = False
            self._connections.add(held.conn)
        return held.conn

    def close(self):
        """Closes this thread's connection."""
        held = self._held()
        if held.conn is not None:
            held.conn.close()
            held.conn = None

    def close_all(self):
        for conn in list(self._connections):
            conn.close()

    def __del__(self):
        self.close_all()

    def request(self, method, path, body=None, content_type="application/json", query=None, headers=None):
        """Returns (status, headers dict with lowercase names, body bytes). Raises
        MeterdUnavailable when meterd cannot be reached."""
        target = self._prefix + path
        if query:
            target += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        h = dict(headers or {})
        if self.api_key:
            h["Authorization"] = "Bearer " + self.api_key
        if body is not None:
            h["Content-Type"] = content_type
        for attempt in (0, 1):
            conn = self._connection()
            held = self._held()
            reused = held.used
            try:
                conn.request(method, target, body=body, headers=h)
                resp = conn.getresponse()
                data = resp.read()
                held.used = True
                result_headers = {k.lower(): v for k, v in resp.getheaders()}
                if resp.getheader("connection", "").lower() == "close":
                    self.close()
                return resp.status, result_headers, data
            except (OSError, http.client.HTTPException) as e:
                self.close()
                # A keep-alive connection the server closed meanwhile fails at once: try a new one.
                if attempt == 0 and reused and isinstance(e, (http.client.RemoteDisconnected, ConnectionResetError,
                                                             BrokenPipeError)):
                    continue
                raise MeterdUnavailable("meterd at %s is unreachable: %s" % (self.url, e)) from e

    def call(self, method, path, body=None, query=None, headers=None, content_type="application/json"):
        """A JSON call: the parsed answer, or MeterdError for a 4xx/5xx."""
        payload = dumps(body) if body is not None and not isinstance(body, (bytes, str)) else body
        status, h, data = self.request(method, path, payload, content_type, query, headers)
        if status >= 400:
            raise error_for(status, h, data)
        ctype = h.get("content-type", "")
        return loads(data) if "json" in ctype and data else data.decode()


def error_for(status, headers, data):
    try:
        problem = loads(data)
    except ValueError:
        problem = {"detail": data.decode(errors="replace")[:500]}
    retry_after = None
    if "retry-after" in headers:
        try:
            retry_after = float(headers["retry-after"])
        except ValueError:
            pass
    if status == 429:
        return QuotaExceeded(status, problem, retry_after)
    if status == 503:
        return MeterdUnavailable(problem.get("detail", "meterd is unavailable"), status, problem, retry_after)
    return MeterdError(status, problem, retry_after)
