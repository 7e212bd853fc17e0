"""meterd on a shared PostgreSQL: two nodes, one truth; restarts; the database going away."""
import http.client
import json
import subprocess
import threading
import time
import unittest

from haproxy import HAProxy
from harness import METERD_BIN, Meterd, main, wait_until
from postgres import Postgres


class PostgresTest(unittest.TestCase):
    def setUp(self):
        self.pg = Postgres().start()

    def tearDown(self):
        self.pg.cleanup()

    def node(self):
        return Meterd(extra_args=["--store", self.pg.url])

    # Verifies the same ids sent at the same time to two nodes are stored once, that every node
    # tells each client which of its events were duplicates, and both nodes read the same usage.
    def test_two_nodes_store_each_id_once(self):
        with self.node() as a, self.node() as b:
            self.assertEqual(a.get("/health")[2]["store"], "postgresql")
            answers = {}

            def send(node, name):
                conn = node.connection()
                stored = 0
                for batch in range(20):
                    events = [{"id": "e%d" % i, "tenant_id": "t%d" % (i % 3), "event_type": "query",
                               "quantity": 1} for i in range(batch * 50, batch * 50 + 100)]
                    status, _, body = node.post("/v1/events", events, conn=conn)
                    self.assertEqual(status, 200, body)
                    stored += body["accepted"]
                conn.close()
                answers[name] = stored

            threads = [threading.Thread(target=send, args=(n, k)) for n, k in ((a, "a"), (b, "b"))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            ids = self.pg.ids()
            self.assertEqual(len(ids), 1050)  # e0 .. e1049
            self.assertEqual(max(ids.values()), 1)
            self.assertEqual(answers["a"] + answers["b"], 1050)
            path = "/v1/usage?tenant_id=t1&window=month&from=2000-01-01&to=2100-01-01"
            self.assertEqual(a.get(path)[2], b.get(path)[2])

    # Verifies corrections on PostgreSQL: a cancel, an amend and a replace through one node are
    # read by the other; the same event amended through both at once is amended once (the other
    # gets 409 and stores nothing); a correction of a finalized month issues a note on both.
    def test_corrections_across_nodes(self):
        env = {"METERD_CORRECTION_WINDOW_DAYS": "60"}
        with Meterd(extra_args=["--store", self.pg.url], env=env) as a, \
                Meterd(extra_args=["--store", self.pg.url], env=env) as b:
            events = [{"id": "c%d" % i, "tenant_id": "acme", "event_type": "query", "quantity": 10,
                       "timestamp": "2026-11-20T10:00:00Z"} for i in range(4)]
            self.assertEqual(a.post("/v1/events", events)[2]["accepted"], 4)
            path = "/v1/usage?tenant_id=acme&from=2026-11-01&to=2026-12-01"
            self.assertEqual(a.post("/v1/events/cancel", {"tenant_id": "acme", "ids": ["c0"]})[0], 200)
            self.assertEqual(b.get(path)[2]["totals"][0]["quantity"], "30")
            answers = []

            def amend(node, quantity):
                body = {"tenant_id": "acme", "id": "c1", "set": {"quantity": quantity}}
                answers.append(node.post("/v1/events/amend", body)[0])

            threads = [threading.Thread(target=amend, args=(n, q)) for n, q in ((a, 1), (b, 2))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(sorted(answers), [200, 409])
            total = b.get(path)[2]["totals"][0]
            self.assertIn((total["quantity"], total["events"]), [("21", 3), ("22", 3)])
            status, _, body = b.post("/v1/tenants/acme/replace", {
                "event_type": "query", "from": "2026-11-20T00:00:00Z", "to": "2026-11-21T00:00:00Z",
                "events": [{"id": "r1", "quantity": 7, "timestamp": "2026-11-20T12:00:00Z"}]})
            self.assertEqual((status, body["withdrawn"]["events"]), (200, 3), body)
            self.assertEqual(a.get(path)[2]["totals"][0]["quantity"], "7")
            trail = a.get("/v1/tenants/acme/corrections")[2]["corrections"]
            self.assertEqual(len(trail), 5)  # c0; c1; then c1's replacement, c2, c3
            a.post("/v1/tenants/acme/invoices/2026-11/finalize")
            body = b.post("/v1/events/cancel", {"tenant_id": "acme", "ids": ["r1"]})[2]
            self.assertEqual(body["adjustments"], ["INV-202611-acme-CN1"])
            notes = a.get("/v1/tenants/acme/invoices/2026-11/adjustments")[2]["adjustments"]
            self.assertEqual([(n["number"], n["total_change"]) for n in notes], [("INV-202611-acme-CN1", "-0.07")])
            self.assertEqual(max(self.pg.ids().values()), 1)

    # Verifies events, plans and quota settings outlive a node killed with SIGKILL, and that a
    # retry of acknowledged events after the restart is counted as duplicates.
    def test_everything_outlives_a_killed_node(self):
        with self.node() as m:
            events = [{"id": "k%d" % i, "tenant_id": "acme", "event_type": "input_tokens", "quantity": "1.5"}
                      for i in range(40)]
            self.assertEqual(m.post("/v1/events", events)[0], 200)
            self.assertEqual(m.request("PUT", "/v1/tenants/acme/plan", {"plan": "default"})[0], 200)
            status, _, body = m.request("PUT", "/v1/tenants/acme/quotas",
                                        {"tokens_per_day": "12.5", "time_zone": "Asia/Kolkata"})
            self.assertEqual(status, 200, body)
            m.kill9()
            m.start()
            status, _, body = m.post("/v1/events", events)
            self.assertEqual(status, 200)
            self.assertEqual((body["accepted"], body["duplicates"]), (0, 40))
            quota = m.get("/v1/tenants/acme/quotas")[2]
            self.assertEqual(quota["time_zone"], "Asia/Kolkata")
            self.assertEqual(str(quota["quotas"]["tokens"]["limit"]), "12.5", quota)
            self.assertEqual(m.get("/v1/tenants/acme/plan")[2]["plan"], "default")
            self.assertEqual(self.pg.query("SELECT sum(quantity) FROM usage_daily WHERE tenant_id = 'acme'"),
                             [["60.0"]])

    # Verifies that while PostgreSQL is down, events get 503 with Retry-After (never a 2xx), and
    # that the node stores again once the database is back, without a restart.
    def test_database_outage_is_503_then_recovers(self):
        with self.node() as m:
            event = {"id": "before", "tenant_id": "acme", "event_type": "query", "quantity": 1}
            self.assertEqual(m.post("/v1/events", [event])[0], 200)
            self.pg.stop()
            status, headers, body = m.post("/v1/events", [dict(event, id="during")])
            self.assertEqual(status, 503, body)
            self.assertIn("retry-after", headers)
            self.pg.start()

            def stored():
                return m.post("/v1/events", [dict(event, id="during")])[0] == 200
            self.assertTrue(wait_until(stored, timeout=20, interval=0.5), m.log())
            self.assertEqual(sorted(self.pg.ids()), ["before", "during"])


    # Verifies an API key created with the CLI against the shared store, and a hard quota set
    # through one node, are in force on the other node within a second.
    def test_keys_and_quota_settings_reach_every_node(self):
        with self.node() as a, self.node() as b:
            out = subprocess.run([METERD_BIN, "keys", "create", "--admin", "--store", self.pg.url,
                                  "--data-dir", a.data_dir], capture_output=True, text=True, check=True)
            key = out.stdout.strip()
            auth = {"Authorization": "Bearer " + key}

            def keyed_everywhere():
                return all(n.get("/v1/tenants/acme/quotas")[0] == 401 and
                           n.get("/v1/tenants/acme/quotas", headers=auth)[0] == 200 for n in (a, b))
            self.assertTrue(wait_until(keyed_everywhere, timeout=1.5, interval=0.05))

            status, _, body = a.request("PUT", "/v1/tenants/acme/quotas",
                                        {"queries_per_day": 5, "enforcement": "hard"}, headers=auth)
            self.assertEqual(status, 200, body)

            def limited_on_b():
                q = b.get("/v1/tenants/acme/quotas", headers=auth)[2]
                return str(q["quotas"]["queries"]["limit"]) == "5"
            self.assertTrue(wait_until(limited_on_b, timeout=1.0, interval=0.05))
            events = [{"id": "q%d" % i, "tenant_id": "acme", "event_type": "query", "quantity": 1}
                      for i in range(6)]
            status, headers, body = b.post("/v1/events", events, headers=auth)
            self.assertEqual(status, 207, body)  # some stored, one refused
            self.assertEqual((body["accepted"], body["rejected"]), (5, 1))
            self.assertEqual(body["results"][5]["error"]["field"], "queries_per_day")


    # Verifies nodes racing at a hard limit never store more than it together (eight clients on
    # two nodes send 480 single events for a tenant limited to 100 queries a day), and that
    # /quota/check on either node counts the events both stored.
    def test_nodes_racing_at_a_hard_limit_store_exactly_the_limit(self):
        with self.node() as a, self.node() as b:
            status, _, body = a.request("PUT", "/v1/tenants/acme/quotas", {"queries_per_day": 100, "enforcement": "hard"})
            self.assertEqual(status, 200, body)
            self.assertTrue(wait_until(
                lambda: str(b.get("/v1/tenants/acme/quotas")[2]["quotas"]["queries"]["limit"]) == "100", timeout=1))
            answers = {"accepted": 0, "refused": 0}
            lock = threading.Lock()

            def send(node, c):
                conn = node.connection()
                for i in range(60):
                    status, _, _ = node.post("/track", {"id": "r%d-%d" % (c, i), "tenant_id": "acme",
                                                        "event_type": "query", "quantity": 1}, conn=conn)
                    kind = "accepted" if status < 300 else "refused" if status == 429 else str(status)
                    with lock:
                        answers[kind] = answers.get(kind, 0) + 1
                conn.close()

            threads = [threading.Thread(target=send, args=(n, c)) for c, n in enumerate([a, b] * 4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(answers, {"accepted": 100, "refused": 380})
            self.assertEqual(len(self.pg.ids()), 100)
            for node in (a, b):  # each node counts what both stored
                status, _, check = node.post("/quota/check", {"tenant_id": "acme"})
                self.assertEqual(str(check["quotas"]["queries"]["used"]), "100", check)
                self.assertFalse(check["within_quota"] and not check["at_limit"], check)

    # Verifies a hard gauge limit holds across nodes: a level stored through one node counts on
    # the other, which refuses a reading above the limit and reports that level in /quota/check.
    def test_gauge_limit_holds_across_nodes(self):
        with self.node() as a, self.node() as b:
            status, _, body = a.request("PUT", "/v1/tenants/acme/quotas", {"storage_gb": 10, "enforcement": "hard"})
            self.assertEqual(status, 200, body)
            self.assertTrue(wait_until(
                lambda: str(b.get("/v1/tenants/acme/quotas")[2]["quotas"]["storage_gb"]["limit"]) == "10", timeout=1),
                b.get("/v1/tenants/acme/quotas")[2])
            reading = {"tenant_id": "acme", "event_type": "storage_gb"}
            self.assertEqual(a.post("/track", dict(reading, id="s1", quantity="9.5"))[0], 200)
            # b cached acme's answer above; it drops it when a's NOTIFY arrives, which under a
            # loaded machine can come after a's 2xx (docs/postgresql.md). Admission below reads
            # PostgreSQL under the tenant's lock and does not wait for it.
            def used():
                return str(b.post("/quota/check", {"tenant_id": "acme"})[2]["quotas"]["storage_gb"]["used"])
            self.assertTrue(wait_until(lambda: used() == "9.5", timeout=2), used())
            status, _, body = b.post("/track", dict(reading, id="s2", quantity="10.5"))
            self.assertEqual(status, 429, body)  # this node stored nothing itself: the level is a's
            self.assertEqual(b.post("/track", dict(reading, id="s3", quantity="10"))[0], 200)
            check = a.post("/quota/check", {"tenant_id": "acme"})[2]
            self.assertEqual(str(check["quotas"]["storage_gb"]["used"]), "10", check)
            self.assertEqual(sorted(self.pg.ids()), ["s1", "s3"])

    # Verifies a soft-mode threshold alert follows what every node stored: 45 queries through
    # each of two nodes pass 80 % of a limit of 100 once, and the alert is recorded once.
    def test_alert_thresholds_count_every_node(self):
        with self.node() as a, self.node() as b:
            status, _, body = a.request("PUT", "/v1/tenants/acme/quotas", {"queries_per_day": 100})
            self.assertEqual(status, 200, body)
            self.assertTrue(wait_until(
                lambda: str(b.get("/v1/tenants/acme/quotas")[2]["quotas"]["queries"]["limit"]) == "100", timeout=1))
            for node, prefix in ((a, "a"), (b, "b")):
                events = [{"id": "%s%d" % (prefix, i), "tenant_id": "acme", "event_type": "query", "quantity": 1}
                          for i in range(45)]
                self.assertEqual(node.post("/v1/events", events)[0], 200)
            alerts = self.pg.query("SELECT threshold, used FROM quota_alerts WHERE tenant_id = 'acme'")
            self.assertEqual(alerts, [["80", "90"]])

    # Verifies that with three nodes behind haproxy and one killed with SIGKILL under load, every
    # event the clients sent is stored exactly once after they resend what was not acknowledged.
    def test_node_killed_behind_haproxy(self):
        nodes = [self.node().start() for _ in range(3)]
        lb = HAProxy(nodes)
        sent, unanswered, answered = set(), [], [0]
        lock = threading.Lock()

        def post(batch):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
                conn.request("POST", "/v1/events", json.dumps(batch), {"Content-Type": "application/json"})
                status = conn.getresponse().status
                conn.close()
                return status == 200
            except (OSError, http.client.HTTPException):
                return False

        def client(c, until):
            n = 0
            while time.time() < until:
                batch = [{"id": "c%d-%d" % (c, n * 50 + i), "tenant_id": "t%d" % (i % 5), "event_type": "query",
                          "quantity": 1} for i in range(50)]
                n += 1
                ok = post(batch)
                with lock:
                    sent.update(e["id"] for e in batch)
                    answered[0] += ok
                    if not ok:
                        unanswered.append(batch)

        try:
            until = time.time() + 4
            clients = [threading.Thread(target=client, args=(c, until)) for c in range(4)]
            for t in clients:
                t.start()
            time.sleep(1.5)
            nodes[1].kill9()
            for t in clients:
                t.join()
            for batch in unanswered:  # what a client does with a request that got no answer
                self.assertTrue(wait_until(lambda: post(batch), timeout=20, interval=0.2))
            stored = self.pg.ids()
            self.assertGreater(answered[0], 20)
            self.assertEqual(set(stored), sent)
            self.assertEqual(max(stored.values()), 1)
        finally:
            lb.cleanup()
            for n in nodes:
                n.cleanup()


if __name__ == "__main__":
    main()
