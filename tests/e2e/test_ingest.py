"""End-to-end: ingestion over HTTP against the real binary and its SQLite file."""
import datetime
import json
import time
import unittest

from harness import Meterd, main


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class IngestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = Meterd().start()

    @classmethod
    def tearDownClass(cls):
        cls.m.cleanup()

    # Verifies /track stores an event and returns its generated id.
    def test_track_returns_id_and_stores(self):
        status, _, body = self.m.post("/track", {"tenant_id": "t_track", "event_type": "query", "quantity": 1})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], "accepted")
        self.assertEqual(len(body["id"]), 36)
        self.assertEqual(self.m.stored_ids("t_track"), {body["id"]: 1})

    # Verifies the same id is counted once across requests, and reported as a duplicate.
    def test_dedupe_across_requests(self):
        ev = {"id": "dup-1", "tenant_id": "t_dup", "event_type": "query", "quantity": 2}
        self.assertEqual(self.m.post("/track", ev)[2]["status"], "accepted")
        status, _, body = self.m.post("/track", ev)
        self.assertEqual(status, 200)
        self.assertEqual(body["status"], "duplicate")
        status, _, body = self.m.post("/v1/events", [ev, dict(ev, id="dup-2")])
        self.assertEqual([r["status"] for r in body["results"]], ["duplicate", "accepted"])
        self.assertEqual(self.m.stored_ids("t_dup"), {"dup-1": 1, "dup-2": 1})
        # The same id under another tenant is another event.
        self.assertEqual(self.m.post("/track", dict(ev, tenant_id="t_dup_other"))[2]["status"], "accepted")

    # Verifies a batch with bad items stores the good ones and names each problem (207).
    def test_batch_partial_failure(self):
        batch = [
            {"id": "p1", "tenant_id": "t_part", "event_type": "tokens", "quantity": 10},
            {"id": "p2", "tenant_id": "t_part", "quantity": 10},
            {"id": "p3", "tenant_id": "t_part", "event_type": "tokens", "quantity": "x"},
            {"id": "p4", "tenant_id": "t_part", "event_type": "tokens", "quantity": 0.5},
        ]
        status, _, body = self.m.post("/v1/events", batch)
        self.assertEqual(status, 207, body)
        self.assertEqual((body["accepted"], body["rejected"]), (2, 2))
        self.assertEqual(body["results"][1]["error"]["field"], "event_type")
        self.assertEqual(body["results"][2]["error"]["field"], "quantity")
        self.assertEqual(self.m.stored_ids("t_part"), {"p1": 1, "p4": 1})

    # Verifies a batch where nothing is valid is a 400 problem and stores nothing.
    def test_batch_all_invalid(self):
        status, headers, body = self.m.post("/v1/events", [{"tenant_id": "t_bad"}, {"event_type": "q"}])
        self.assertEqual(status, 400)
        self.assertEqual(headers["content-type"], "application/problem+json")
        self.assertEqual(body["field"], "event_type")
        self.assertEqual(self.m.stored_ids("t_bad"), {})

    # Verifies NDJSON bodies, by content type.
    def test_ndjson(self):
        lines = "\n".join(json.dumps({"id": "n%d" % i, "tenant_id": "t_nd", "event_type": "q"}) for i in range(5))
        status, _, body = self.m.post("/v1/events", lines, headers={"Content-Type": "application/x-ndjson"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["accepted"], 5)
        self.assertEqual(len(self.m.stored_ids("t_nd")), 5)

    # Verifies usage from the rollups by hour, day and month, with exact decimal sums.
    def test_usage_windows(self):
        base = now_utc().replace(minute=5, second=0, microsecond=0) - datetime.timedelta(hours=2)
        events = [
            {"tenant_id": "t_use", "event_type": "tokens", "quantity": "0.1", "timestamp": iso(base)},
            {"tenant_id": "t_use", "event_type": "tokens", "quantity": "0.2", "timestamp": iso(base + datetime.timedelta(minutes=10))},
            {"tenant_id": "t_use", "event_type": "tokens", "quantity": 1, "timestamp": iso(base + datetime.timedelta(hours=1))},
            {"tenant_id": "t_use", "event_type": "query", "timestamp": iso(base + datetime.timedelta(hours=1))},
        ]
        self.assertEqual(self.m.post("/v1/events", events)[0], 200)
        frm = iso(base - datetime.timedelta(days=1))
        status, _, body = self.m.get("/v1/usage?tenant_id=t_use&window=hour&event_type=tokens&from=" + frm)
        self.assertEqual(status, 200, body)
        self.assertEqual([b["quantity"] for b in body["buckets"]], ["0.3", "1"])
        self.assertEqual(body["buckets"][0]["events"], 2)
        status, _, body = self.m.get("/v1/usage?tenant_id=t_use&window=month&from=" + frm)
        totals = {t["event_type"]: t["quantity"] for t in body["totals"]}
        self.assertEqual(totals, {"query": "1", "tokens": "1.3"})
        status, _, body = self.m.get("/v1/usage?tenant_id=t_use&window=week")
        self.assertEqual((status, body["field"]), (400, "window"))
        status, _, body = self.m.get("/v1/usage?window=day")
        self.assertEqual((status, body["field"]), (400, "tenant_id"))

    # Verifies bad bodies get 4xx problem answers naming the field, and nothing is stored.
    def test_rejections_are_problems(self):
        cases = [
            ("/track", '{"tenant_id": "t_rej", "event_type": "q", "quantity": -1}', 400, "quantity"),
            ("/track", '{"tenant_id": "t rej", "event_type": "q"}', 400, "tenant_id"),
            ("/track", '{"tenant_id": "t_rej", "event_type": "q", "timestamp": "2001-01-01T00:00:00Z"}', 400, "timestamp"),
            ("/track", '{"tenant_id": "t_rej", "event_type": "q", "metadata": "x"}', 400, "metadata"),
            ("/track", '{"tenant_id": "t_rej", "event_type": "q", "quantity": 0.0000000000001}', 400, "quantity"),
            ("/track", '{"tenant_id": "t_rej", "event_type": "q"', 400, None),
            ("/track", '[{"tenant_id": "t_rej", "event_type": "q"}]', 400, None),
            ("/track", '', 400, None),
        ]
        for path, body, want_status, want_field in cases:
            with self.subTest(body=body):
                status, headers, answer = self.m.post(path, body, headers={"Content-Type": "application/json"})
                self.assertEqual(status, want_status, answer)
                self.assertEqual(headers["content-type"], "application/problem+json")
                self.assertEqual(answer["status"], want_status)
                if want_field:
                    self.assertEqual(answer["field"], want_field)
        status, _, answer = self.m.post("/track", "<xml/>", headers={"Content-Type": "application/xml"})
        self.assertEqual(status, 415)
        self.assertEqual(self.m.stored_ids("t_rej"), {})

    # Verifies the per-request event limit and the body size limit.
    def test_request_limits(self):
        many = [{"tenant_id": "t_lim", "event_type": "q"} for _ in range(10001)]
        status, _, body = self.m.post("/v1/events", many)
        self.assertEqual(status, 413, body)
        self.assertIn("10000", body["detail"])
        self.assertEqual(self.m.stored_ids("t_lim"), {})

    # Verifies /health reports the store and counters.
    def test_health(self):
        status, _, body = self.m.get("/health")
        self.assertEqual(status, 200)
        self.assertEqual((body["status"], body["store"]), ("ok", "sqlite"))
        self.assertIn("queue_depth", body)
        self.assertIn("version", body)

    # Verifies unknown routes and methods are 404 and 405 problems.
    def test_unknown_routes(self):
        self.assertEqual(self.m.get("/nope")[0], 404)
        status, headers, _ = self.m.request("DELETE", "/track")
        self.assertEqual((status, headers["allow"]), (405, "POST"))


class BodyLimitTest(unittest.TestCase):
    # Verifies a body over server.max_body_bytes is refused with 413 and the server keeps serving.
    def test_body_limit(self):
        with Meterd(extra_args=["--set", "server.max_body_bytes=2048"]) as m:
            big = json.dumps([{"tenant_id": "t", "event_type": "q", "metadata": {"pad": "x" * 100}}] * 40)
            status, _, body = m.post("/v1/events", big, headers={"Content-Type": "application/json"})
            self.assertEqual(status, 413)
            self.assertEqual(m.get("/health")[0], 200)



class LateRetryTest(unittest.TestCase):
    # Verifies a retry of a stored event whose timestamp has since aged past the late window is
    # answered "duplicate" on /track and /v1/events, while a new event that old is refused.
    def test_retry_past_the_late_window_is_duplicate(self):
        with Meterd(extra_args=["--set", "ingest.late_window_days=1", "--set", "ingest.dedupe_window_days=2"]) as m:
            edge = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1) + datetime.timedelta(seconds=3)
            stamp = edge.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            event = {"id": "edge-1", "tenant_id": "t_late", "event_type": "query", "timestamp": stamp}
            status, _, body = m.post("/track", event)
            self.assertEqual((status, body["status"]), (200, "accepted"), body)
            time.sleep(5)  # now older than the late window
            status, _, body = m.post("/track", event)
            self.assertEqual((status, body["status"]), (200, "duplicate"), body)
            status, _, body = m.post("/v1/events", [event, dict(event, id="edge-new")])
            self.assertEqual(status, 207, body)
            self.assertEqual([r["status"] for r in body["results"]], ["duplicate", "rejected"])
            self.assertEqual(body["results"][1]["error"]["field"], "timestamp")
            self.assertEqual(m.stored_ids("t_late"), {"edge-1": 1})

if __name__ == "__main__":
    main()
