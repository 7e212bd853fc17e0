"""End-to-end: hostile and malformed input gets the right 4xx, the server keeps serving, and
what was acknowledged before stays intact."""
import json
import socket
import time
import unittest

from harness import Meterd, main

GOOD = {"tenant_id": "t_safe", "event_type": "query"}


def raw(port, data, read_timeout=10):
    """Sends raw bytes and returns (status, body) of the answer, or (None, b'') if closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and b"Content-Length" in b"".join(chunks):
                    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                    if len(body) >= length:
                        break
        except socket.timeout:
            pass
    answer = b"".join(chunks)
    if not answer:
        return None, b""
    return int(answer.split(b" ")[1]), answer.partition(b"\r\n\r\n")[2]


def post_raw(port, path, body, content_type=b"application/json"):
    head = b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + content_type + \
        b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
    return raw(port, head + body)


class HostileInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = Meterd(extra_args=["--set", "server.max_body_bytes=65536", "--set", "server.read_timeout_seconds=1",
                                   "--set", "server.max_connections=20", "--set", "server.max_header_bytes=4096"]).start()
        status, _, body = cls.m.post("/v1/events", [dict(GOOD, id="before-%d" % i, quantity=i) for i in range(10)])
        assert status == 200, body

    @classmethod
    def tearDownClass(cls):
        cls.m.cleanup()

    def tearDown(self):
        # After every hostile request: still serving, and the acknowledged events intact.
        self.assertEqual(self.m.get("/health")[0], 200)
        self.assertEqual(set(self.m.stored_ids("t_safe")), {"before-%d" % i for i in range(10)})

    # Verifies malformed JSON bodies of every kind are a 400 problem.
    def test_malformed_bodies(self):
        deep = b"[" * 5000 + b"]" * 5000
        cases = {
            b'{"tenant_id": "t_safe", "event_type": "query"': "truncated",
            b'{"tenant_id": t_safe}': "bare word",
            b'{"tenant_id": "t_safe", "event_type": "query",}': "trailing comma",
            b'{"tenant_id": "t_safe", "event_type": "query", "quantity": NaN}': "NaN",
            b'{"tenant_id": "t_safe", "event_type": "query", "quantity": Infinity}': "Infinity",
            b'{"tenant_id": "t_safe", "event_type": "query", "quantity": 1e400}': "huge exponent",
            b'{"tenant_id": "t_safe", "event_type": "query", "quantity": ' + b"9" * 5000 + b"}": "huge number",
            b'{"tenant_id": "t_safe", "event_type": "query", "quantity": -5}': "negative",
            b'{"tenant_id": "t_safe", "event_type": "query", "quantity": "5 apples"}': "text quantity",
            b'{"tenant_id": ["t_safe"], "event_type": "query"}': "wrong type",
            b'{"tenant_id": "t_\xff\xfe", "event_type": "query"}': "invalid UTF-8",
            b'{"tenant_id": "t_safe\x00", "event_type": "query"}': "raw NUL",
            b'{"tenant_id": "t_safe\\u0000x", "event_type": "query"}': "escaped NUL",
            b'{"tenant_id": "t_safe", "tenant_id": "t_other", "event_type": "query"}': "duplicate key",
            b'{"tenant_id": "t_safe", "event_type": "query", "metadata": ' + deep + b"}": "deep nesting",
            b'{"tenant_id": "' + b"a" * 200 + b'", "event_type": "query"}': "long id",
            b"": "empty",
            b"null": "null",
            b"\x00\x01\x02": "binary",
        }
        for body, name in cases.items():
            for path in (b"/track", b"/v1/events"):
                with self.subTest(case=name, path=path):
                    status, answer = post_raw(self.m.port, path, body)
                    self.assertEqual(status, 400, answer[:200])
                    self.assertEqual(json.loads(answer)["status"], 400)

    # Verifies the Python service's quota and invoice bodies reject the same hostile input.
    def test_malformed_admin_bodies(self):
        deep = b"[" * 30000 + b"]" * 30000  # within this server's 64 KiB body limit
        for body in (b'{"tenant_id": "t_safe", "queries_per_day": ' + deep + b"}", b'{"tenant_id": "t_safe"',
                     b'{"tenant_id": "t_safe", "tenant_id": "x"}', b'{"tenant_id": "\xff"}', b"[]"):
            for path in (b"/quota/set", b"/quota/check", b"/invoice/generate"):
                with self.subTest(body=body[:40], path=path):
                    status, answer = post_raw(self.m.port, path, body)
                    self.assertEqual(status, 400, answer[:200])

    # Verifies an oversized body is 413 and oversized headers 431.
    def test_size_limits(self):
        status, _ = post_raw(self.m.port, b"/v1/events", b"[" + b" " * 70000 + b"]")
        self.assertEqual(status, 413)
        status, _ = raw(self.m.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 8000 + b"\r\n\r\n")
        self.assertEqual(status, 431)

    # Verifies garbage instead of HTTP is a 400, and unknown routes and methods 404 and 405.
    def test_bad_http(self):
        self.assertEqual(raw(self.m.port, b"HELLO WORLD\r\n\r\n")[0], 400)
        self.assertEqual(raw(self.m.port, b"GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")[0], 404)
        self.assertEqual(raw(self.m.port, b"PUT /track HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")[0], 405)
        self.assertEqual(raw(self.m.port, b"GET /v1/usage?tenant_id=%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")[0], 400)

    # Verifies a slow-loris client is cut off after the read timeout while others are served.
    def test_slow_loris(self):
        slow = socket.create_connection(("127.0.0.1", self.m.port), timeout=10)
        slow.sendall(b"POST /track HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.time()
        self.assertEqual(self.m.get("/health")[0], 200)  # served meanwhile
        slow.settimeout(10)
        answer = b""
        try:
            while True:
                chunk = slow.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except OSError:
            pass
        slow.close()
        self.assertLess(time.time() - started, 5)
        self.assertTrue(answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:100])

    # Verifies connections past server.max_connections get a 503 and the server recovers.
    def test_connection_limit(self):
        idle = [socket.create_connection(("127.0.0.1", self.m.port)) for _ in range(20)]
        try:
            time.sleep(0.2)
            status, _ = raw(self.m.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            self.assertEqual(status, 503)
        finally:
            for s in idle:
                s.close()
        time.sleep(0.3)


class RateLimitTest(unittest.TestCase):
    # Verifies the per-tenant ingest rate limit answers 429 with Retry-After, per tenant.
    def test_rate_limit(self):
        with Meterd(extra_args=["--set", "ingest.rate_limit_events_per_second=5",
                                "--set", "ingest.rate_limit_burst=10"]) as m:
            status, _, _ = m.post("/v1/events", [dict(GOOD, tenant_id="t_fast")] * 10)
            self.assertEqual(status, 200)
            status, headers, body = m.post("/track", dict(GOOD, tenant_id="t_fast"))
            self.assertEqual((status, body["field"]), (429, "tenant_id"))
            self.assertGreaterEqual(int(headers["retry-after"]), 1)
            self.assertEqual(m.post("/track", dict(GOOD, tenant_id="t_calm"))[0], 200)
            self.assertEqual(len(m.stored_ids("t_fast")), 10)


if __name__ == "__main__":
    main()
