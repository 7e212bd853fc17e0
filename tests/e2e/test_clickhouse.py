"""meterd with a real ClickHouse: outages, crashes mid-shipment, replay, reconcile, retention."""
import json
import os
import subprocess
import threading
import time
import unittest

from clickhouse import ClickHouse
from harness import METERD_BIN, Meterd, main, wait_until

FAST_SHIPPING = ["--set", "buffer.size=500", "--set", "buffer.catch_up_size=500", "--set", "buffer.flush_interval_seconds=0.2"]


def health(m):
    return m.get("/health")[2]


def send_events(m, prefix, count, batch=100):
    """Posts count events in batches; returns the acknowledged ids."""
    acked = []
    conn = m.connection()
    for start in range(0, count, batch):
        events = [{"id": "%s-%d" % (prefix, i), "tenant_id": "t%d" % (i % 4), "event_type": "query",
                   "quantity": i % 9 + 1} for i in range(start, min(count, start + batch))]
        status, _, body = m.post("/v1/events", events, conn=conn)
        if status == 200:
            acked += [e["id"] for e in events]
    conn.close()
    return acked


class ClickHouseTest(unittest.TestCase):
    def setUp(self):
        self.ch = ClickHouse().start()

    def tearDown(self):
        self.ch.cleanup()

    def meterd(self, data_dir=None, env=None):
        return Meterd(data_dir=data_dir, extra_args=["--clickhouse", self.ch.url] + FAST_SHIPPING, env=env)

    def wait_shipped(self, m, expected, timeout=90):
        """Waits until ClickHouse holds `expected` events and meterd reports nothing waiting."""
        def done():
            h = health(m)["backend"]
            return h["backlog_events"] == 0 and h["reachable"] and len(self.ch.ids()) >= expected
        self.assertTrue(wait_until(done, timeout=timeout, interval=0.2),
                        "backlog not shipped: %s\n%s" % (health(m), m.log()))

    def assert_exactly_once(self, acked):
        stored = self.ch.ids()
        self.assertEqual(len(stored), len(acked))
        self.assertEqual(set(stored), set(acked))
        self.assertEqual(max(stored.values()), 1)

    # Verifies a cancel with ClickHouse: the retraction is shipped like an event, and usage (from
    # the rollups) and the invoice (from the raw rows) read from ClickHouse leave the event out.
    def test_corrections_reach_clickhouse(self):
        with self.meterd() as m:
            events = [{"id": i, "tenant_id": "cx", "event_type": "query", "quantity": q} for i, q in (("k1", 5), ("k2", 7))]
            self.assertEqual(m.post("/v1/events", events)[0], 200)
            status, _, body = m.post("/v1/events/cancel", {"tenant_id": "cx", "ids": ["k2"], "reason": "test"})
            self.assertEqual((status, body["cancelled"]), (200, 1), body)
            self.wait_shipped(m, 3)  # two events and the retraction
            self.assertEqual(self.ch.ids().get("~k2"), 1)
            totals = m.answer("GET", "/v1/usage?tenant_id=cx")["totals"]
            self.assertEqual([(t["quantity"], t["events"]) for t in totals], [("5", 1)])
            month = time.strftime("%Y-%m", time.gmtime())
            lines = m.answer("GET", "/v1/tenants/cx/invoices/" + month)["line_items"]
            self.assertEqual({l["event_type"]: l["quantity"] for l in lines}["query"], "5")
            # An amend is a retraction and an event; a replace withdraws what is left.
            status, _, body = m.post("/v1/events/amend", {"tenant_id": "cx", "id": "k1", "set": {"quantity": 9},
                                                          "correction_id": "fix-k1"})
            self.assertEqual((status, body["status"]), (200, "amended"), body)
            self.wait_shipped(m, 5)
            self.assertEqual(self.ch.ids().get("fix-k1"), 1)
            totals = m.answer("GET", "/v1/usage?tenant_id=cx")["totals"]
            self.assertEqual([(t["quantity"], t["events"]) for t in totals], [("9", 1)])
            now = time.time()
            span = {"from": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
                    "to": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 60))}
            status, _, body = m.post("/v1/tenants/cx/replace", dict(span, event_type="query", events=[
                {"id": "r1", "quantity": 2, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60))}]))
            self.assertEqual((status, body["withdrawn"], body["added"]),
                             (200, {"events": 1, "quantity": "9"}, {"events": 1, "quantity": "2"}), body)
            self.wait_shipped(m, 7)
            totals = m.answer("GET", "/v1/usage?tenant_id=cx")["totals"]
            self.assertEqual([(t["quantity"], t["events"]) for t in totals], [("2", 1)])

    # Verifies a correction of a month finalized from ClickHouse issues its note at once, from
    # the local log (ClickHouse has the correction only once shipped), and the note is right.
    def test_note_of_a_finalized_month(self):
        with self.meterd(env={"METERD_CORRECTION_WINDOW_DAYS": "60"}) as m:
            events = [{"id": i, "tenant_id": "nx", "event_type": "query", "quantity": 100,
                       "timestamp": "2026-11-20T10:00:00Z"} for i in ("n1", "n2")]
            self.assertEqual(m.post("/v1/events", events)[0], 200)
            self.wait_shipped(m, 2)
            self.assertEqual(m.post("/v1/tenants/nx/invoices/2026-11/finalize")[0], 201)
            body = m.post("/v1/events/cancel", {"tenant_id": "nx", "ids": ["n2"]})[2]
            self.assertEqual(body["adjustments"], ["INV-202611-nx-CN1"])
            note = m.get("/v1/tenants/nx/invoices/2026-11/adjustments/1")[2]
            self.assertEqual((note["total_before"], note["total_after"]), ("2", "1"), note)

    # Verifies ingestion keeps acknowledging while ClickHouse is down, the backlog is visible,
    # and every acknowledged event lands exactly once after ClickHouse returns.
    def test_outage_during_load(self):
        with self.meterd() as m:
            acked = []
            stop = threading.Event()

            def load(worker):
                n = 0
                while not stop.is_set():  # about 2,000 events/s per worker: a load, not a flood
                    acked.extend(send_events(m, "w%d-%d" % (worker, n), 100))
                    n += 1
                    time.sleep(0.05)

            threads = [threading.Thread(target=load, args=(w,)) for w in range(3)]
            for t in threads:
                t.start()
            time.sleep(1.0)
            self.ch.stop()
            self.assertTrue(wait_until(lambda: not health(m)["backend"]["reachable"], timeout=15))
            time.sleep(1.5)
            h = health(m)["backend"]
            self.assertGreater(h["backlog_events"], 0)
            self.assertIn("ClickHouse", h["last_error"])
            metrics = m.get("/metrics")[2]
            self.assertIn("meterd_backend_up 0", metrics)
            backlog = [l for l in metrics.splitlines() if l.startswith("meterd_log_backlog_events ")]
            self.assertGreater(int(backlog[0].split()[1]), 0)
            self.ch.start()
            time.sleep(1.0)
            stop.set()
            for t in threads:
                t.join()
            self.wait_shipped(m, len(acked))
            self.assertGreater(len(acked), 1000)
            self.assert_exactly_once(acked)

    # Verifies kill -9 in the middle of shipping a backlog neither loses nor duplicates a batch.
    def test_kill_during_shipment(self):
        data_dir = None
        self.ch.stop()
        m = self.meterd().start()
        data_dir = m.data_dir
        acked = send_events(m, "c", 6000, batch=500)
        self.assertEqual(len(acked), 6000)
        self.ch.start()
        self.assertTrue(wait_until(lambda: health(m)["backend"]["shipped_batches"] >= 2, timeout=60, interval=0.005),
                        m.log())
        m.kill9()
        with self.meterd(data_dir=data_dir) as again:
            self.assertGreater(health(again)["backend"]["backlog_events"], 0)  # known at start
            self.wait_shipped(again, len(acked))
            self.assert_exactly_once(acked)
        m.cleanup()
        subprocess.run(["rm", "-rf", data_dir])

    # Verifies the Python service's fallback file is imported with a summary naming the torn last line,
    # and importing it again adds nothing.
    def test_replay_python_service_fallback_file(self):
        with self.meterd() as m:
            path = os.path.join(m.data_dir, "usage_events_fallback.jsonl")
            now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            with open(path, "w") as f:
                for i in range(100):
                    f.write(json.dumps({"tenant_id": "tenant_acme", "event_type": "input_tokens", "quantity": 1000 + i,
                                        "timestamp": now + ".%06d" % i, "metadata": json.dumps({"model": "gpt-4"})}))
                    f.write("\n")
                f.write('{"tenant_id": "tenant_acme", "event_type": "qu')  # torn by a crash
            url = "http://127.0.0.1:%d" % m.port
            first = subprocess.run([METERD_BIN, "replay", path, "--url", url], capture_output=True, text=True)
            self.assertEqual(first.returncode, 1)
            self.assertIn("101 lines, 100 accepted, 0 duplicate, 1 invalid", first.stdout)
            self.assertIn("line 101: not valid JSON", first.stderr)
            self.assertIn("100%", first.stderr)
            second = subprocess.run([METERD_BIN, "replay", path, "--url", url], capture_output=True, text=True)
            self.assertIn("0 accepted, 100 duplicate, 1 invalid", second.stdout)
            self.wait_shipped(m, 100)
            total = self.ch.query("SELECT toString(sum(quantity)), count() FROM metering.usage_events")
            self.assertEqual(total.strip(), "%d.000000000000\t100" % sum(1000 + i for i in range(100)))

    # Verifies reconcile passes on consistent data and fails naming the drift, and retention
    # drops whole old months from ClickHouse.
    def test_reconcile_and_retention(self):
        with self.meterd() as m:
            send_events(m, "r", 300)
            self.wait_shipped(m, 300)
            args = [METERD_BIN, "--data-dir", m.data_dir, "--clickhouse", self.ch.url]
            ok = subprocess.run(args + ["reconcile"], capture_output=True, text=True)
            self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
            self.assertIn("0 with drift", ok.stdout)

            self.ch.query("INSERT INTO metering.usage_events (id, tenant_id, event_type, quantity, timestamp, "
                          "timestamp_ms, received_at, metadata, batch_id) VALUES "
                          "('old', 't1', 'query', 2, toDateTime('2020-01-15 00:00:00', 'UTC'), 0, now(), '{}', 'x')")
            self.ch.query("INSERT INTO metering.usage_daily VALUES ('t1', toDateTime('2020-01-16 00:00:00', 'UTC'), "
                          "'query', 5, 1)")
            bad = subprocess.run(args + ["reconcile", "--month", "2020-01"], capture_output=True, text=True)
            self.assertEqual(bad.returncode, 1)
            self.assertIn("DRIFT", bad.stdout)
            wrong = subprocess.run(args + ["reconcile", "--month", "2020-13"], capture_output=True, text=True)
            self.assertEqual(wrong.returncode, 2)
            self.assertIn("YYYY-MM", wrong.stderr)

            dry = subprocess.run(args + ["retention", "apply", "--dry-run"], capture_output=True, text=True)
            self.assertIn("would drop 2020-01", dry.stdout)
            self.assertEqual(self.ch.query("SELECT count() FROM metering.usage_events WHERE id = 'old'").strip(), "1")
            real = subprocess.run(args + ["retention", "apply"], capture_output=True, text=True)
            self.assertEqual(real.returncode, 0, real.stderr)
            self.assertIn("dropped 2020-01", real.stdout)
            self.assertEqual(self.ch.query("SELECT count() FROM metering.usage_events WHERE id = 'old'").strip(), "0")
            self.assertEqual(self.ch.query("SELECT count() FROM metering.usage_events").strip(), "300")


if __name__ == "__main__":
    main()
