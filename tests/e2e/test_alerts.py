"""End-to-end: quota threshold alerts reach a real local webhook, signed, once, with retries."""
import hashlib
import hmac
import http.server
import json
import threading
import time
import unittest

from harness import Meterd, main, wait_until

SECRET = "s3cret"


class Receiver:
    """A webhook on 127.0.0.1 that records what it gets; answers 500 to the first `fail_first` posts."""

    def __init__(self, fail_first=0):
        self.posts = []
        self.timestamps = []
        self.fail_first = fail_first
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.posts.append((self.headers.get("X-Meterd-Signature"), body))
                outer.timestamps.append(self.headers.get("X-Meterd-Timestamp"))
                failing = len(outer.posts) <= outer.fail_first
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_port

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def meterd_with(receiver, *extra):
    return Meterd(extra_args=["--set", "quota.webhook_url=" + receiver.url, "--set", "quota.webhook_secret=" + SECRET]
                  + list(extra))


class AlertTest(unittest.TestCase):
    # Verifies 80 % and 100 % fire once each, signed with HMAC-SHA256, and are listed with their delivery.
    def test_thresholds_fire_once_signed(self):
        receiver = Receiver()
        try:
            with meterd_with(receiver) as m:
                m.post("/quota/set", {"tenant_id": "t_alert", "queries_per_day": 10})
                for _ in range(7):
                    m.post("/track", {"tenant_id": "t_alert", "event_type": "query"})
                self.assertEqual(receiver.posts, [])
                m.post("/v1/events", [{"tenant_id": "t_alert", "event_type": "query"}] * 5)  # 7 -> 12: crosses 80 and 100
                m.post("/track", {"tenant_id": "t_alert", "event_type": "query"})
                self.assertTrue(wait_until(lambda: len(receiver.posts) == 2, timeout=10), receiver.posts)
                bodies = []
                for (signature, body), timestamp in zip(receiver.posts, receiver.timestamps):
                    self.assertLess(abs(time.time() - int(timestamp)), 60)
                    signed = timestamp.encode() + b"." + body
                    expected = "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
                    self.assertEqual(signature, expected)
                    bodies.append(json.loads(body))
                self.assertEqual(sorted(b["threshold_percent"] for b in bodies), [80, 100])
                self.assertEqual({(b["tenant_id"], b["meter"], b["period"], b["limit"]) for b in bodies},
                                 {("t_alert", "queries", "day", "10")})
                self.assertTrue(wait_until(lambda: all(a["delivery"] == "delivered"
                                                       for a in m.get("/v1/alerts?tenant_id=t_alert")[2]["alerts"])))
                alerts = m.get("/v1/alerts")[2]["alerts"]
                self.assertEqual(len(alerts), 2)
                time.sleep(0.3)
                self.assertEqual(len(receiver.posts), 2)  # nothing fired twice
        finally:
            receiver.close()

    # Verifies a failing webhook is retried with backoff until it accepts.
    def test_retries_failed_delivery(self):
        receiver = Receiver(fail_first=1)
        try:
            with meterd_with(receiver, "--set", "quota.alert_thresholds=100") as m:
                m.post("/quota/set", {"tenant_id": "t_retry", "queries_per_day": 1})
                m.post("/track", {"tenant_id": "t_retry", "event_type": "query"})
                self.assertTrue(wait_until(lambda: len(receiver.posts) == 2, timeout=10))
                self.assertEqual(receiver.posts[0][1], receiver.posts[1][1])  # the same alert again
                self.assertTrue(wait_until(
                    lambda: m.get("/v1/alerts")[2]["alerts"][0]["attempts"] == 2, timeout=5))
        finally:
            receiver.close()



class DurableAlertTest(unittest.TestCase):
    # Verifies a delivery left pending by a stop (webhook failing) is resumed after the restart.
    def test_pending_delivery_resumes_after_restart(self):
        receiver = Receiver(fail_first=1)
        try:
            m = meterd_with(receiver, "--set", "quota.alert_thresholds=80").start()
            try:
                m.post("/quota/set", {"tenant_id": "t_resume", "queries_per_day": 10})
                m.post("/v1/events", [{"tenant_id": "t_resume", "event_type": "query"}] * 9)
                # Recorded before the events were acknowledged, even though the webhook failed.
                alerts = m.get("/v1/alerts?tenant_id=t_resume")[2]["alerts"]
                self.assertEqual([a["threshold_percent"] for a in alerts], [80])
                self.assertTrue(wait_until(lambda: len(receiver.posts) == 1, timeout=10))
                m.stop()  # during the 1 s backoff: the delivery is still pending
                m.start()
                self.assertTrue(wait_until(lambda: len(receiver.posts) == 2, timeout=15), receiver.posts)
                self.assertTrue(wait_until(lambda: m.get("/v1/alerts?tenant_id=t_resume")[2]["alerts"][0]["delivery"]
                                           == "delivered", timeout=10))
                self.assertEqual(json.loads(receiver.posts[1][1])["tenant_id"], "t_resume")
            finally:
                m.cleanup()
        finally:
            receiver.close()


class WebhookSchemeTest(unittest.TestCase):
    # Verifies a webhook URL that is not http(s) is refused at start, naming the setting.
    def test_gopher_url_is_refused(self):
        m = Meterd(extra_args=["--set", "quota.webhook_url=gopher://127.0.0.1:70/x"])
        with self.assertRaises(RuntimeError) as raised:
            m.start()
        self.assertIn("quota.webhook_url", str(raised.exception))
        m.cleanup()

if __name__ == "__main__":
    main()
