"""meterd with a ClickHouse cluster (2 shards x 2 replicas, ZooKeeper), all real processes:
`migrate --cluster`, exactly-once shipping through a killed replica, a shard down for a while and
meterd killed mid-shipment, a replica catching up, and the same answers as the embedded store."""
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from clickhouse_cluster import CLUSTER, ClickHouseCluster
from harness import METERD_BIN, Meterd, main, wait_until
from test_clickhouse import FAST_SHIPPING, health, send_events


class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ch = ClickHouseCluster().start()

    @classmethod
    def tearDownClass(cls):
        cls.ch.cleanup()

    def settings(self, db):
        return ["--clickhouse", self.ch.url(1), "--set", "clickhouse.database=" + db,
                "--set", "clickhouse.cluster=" + CLUSTER]

    def meterd(self, db, data_dir=None):
        return Meterd(data_dir=data_dir, extra_args=self.settings(db) + FAST_SHIPPING)

    def cli(self, data_dir, db, *args, cluster=True):
        settings = self.settings(db) if cluster else ["--clickhouse", self.ch.url(1), "--set", "clickhouse.database=" + db]
        return subprocess.run([METERD_BIN, "--data-dir", data_dir] + settings + list(args),
                              capture_output=True, text=True, timeout=300)

    def local_count(self, db, node, table="usage_events_local"):
        return int(self.ch.query("SELECT count() FROM %s.%s" % (db, table), node))

    # Verifies migrate --cluster creates replicated local tables and Distributed ones on every
    # node, once, and that a database of the other kind is refused with what to do.
    def test_migrate_cluster(self):
        # A folder of its own: a file left by an earlier run (or another meterd) must not decide the test.
        d = tempfile.mkdtemp(prefix="meterd-cluster-migrate-")
        self.addCleanup(shutil.rmtree, d, True)
        first = self.cli(d, "mig", "migrate", "--cluster", CLUSTER)
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertIn("cluster meterd_test, database mig: applied 1", first.stdout)
        again = self.cli(d, "mig", "migrate", "--cluster", CLUSTER)
        self.assertIn("cluster meterd_test, database mig: applied 2", first.stdout)
        self.assertIn("cluster meterd_test, database mig: applied 3", first.stdout)
        self.assertIn("schema version 3, up to date", again.stdout)
        for node in (1, 2, 3, 4):
            engines = dict(line.split("\t") for line in self.ch.query(
                "SELECT name, engine FROM system.tables WHERE database = 'mig'", node).splitlines())
            self.assertEqual(engines["usage_events"], "Distributed")
            self.assertEqual(engines["usage_events_local"], "ReplicatedMergeTree")
            self.assertEqual(engines["usage_hourly_local"], "ReplicatedSummingMergeTree")
            self.assertEqual(engines["tenant_quotas_local"], "ReplicatedReplacingMergeTree")
            self.assertNotIn("MaterializedView", engines.values())  # meterd writes the rollups
        single = self.cli(d, "mig", "migrate", cluster=False)
        self.assertEqual(single.returncode, 1)
        self.assertIn("made for a cluster", single.stderr)
        self.assertEqual(self.cli(d, "one", "migrate", cluster=False).returncode, 0)
        mixed = self.cli(d, "one", "migrate", "--cluster", CLUSTER)
        self.assertEqual(mixed.returncode, 1)
        self.assertIn("made for one server", mixed.stderr)
        bad = self.cli(d, "mig", "migrate", "--cluster", "x;DROP")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("may hold only", bad.stderr)

    # Verifies exactly once through the failures a cluster has, under load: a replica killed, a
    # whole shard down for a while (shipping stalls, acknowledging goes on), meterd killed with
    # SIGKILL mid-shipment and restarted. Every acknowledged event is stored once, the rollups
    # count each once, and the killed replica catches up when it returns.
    def test_failures_ship_exactly_once(self):
        db = "fail"
        m = self.meterd(db).start()
        data_dir = m.data_dir
        acked, unknown, stop = [], [], threading.Event()
        state = {"m": m, "round": 0}

        def load():
            while not stop.is_set():
                state["round"] += 1
                events = [{"id": "r%d-%d" % (state["round"], i), "tenant_id": "t%d" % (i % 4),
                           "event_type": "query", "quantity": i % 9 + 1} for i in range(100)]
                try:
                    if state["m"].post("/v1/events", events)[0] == 200:
                        acked.extend(e["id"] for e in events)
                except OSError:
                    unknown.extend(e["id"] for e in events)  # meterd killed mid-request: maybe stored
                stop.wait(0.05)  # about 2,000 events/s
        sender = threading.Thread(target=load)
        sender.start()
        try:
            shipped = lambda: health(state["m"])["backend"]["shipped_batches"]  # noqa: E731
            self.assertTrue(wait_until(lambda: shipped() >= 3, timeout=60), m.log())
            self.ch.kill_node(2)  # a replica of shard 1
            mark = shipped()
            self.assertTrue(wait_until(lambda: shipped() >= mark + 3, timeout=60), m.log())
            self.ch.kill_node(3)  # all of shard 2
            self.ch.kill_node(4)
            self.assertTrue(wait_until(lambda: not health(state["m"])["backend"]["reachable"], timeout=60))
            waiting = len(acked)
            self.assertTrue(wait_until(lambda: len(acked) > waiting + 2000, timeout=60))  # still acknowledging
            self.ch.start_node(3)
            self.ch.start_node(4)
            mark = shipped()
            self.assertTrue(wait_until(lambda: shipped() > mark, timeout=90), m.log())
            m.kill9()  # mid-shipment, with a backlog
            state["m"] = m = Meterd(data_dir=data_dir, extra_args=self.settings(db) + FAST_SHIPPING).start()
            self.assertTrue(wait_until(lambda: shipped() >= 2, timeout=90), m.log())
            stop.set()
            sender.join()
            self.ch.start_node(2)

            def done():
                return health(m)["backend"]["backlog_events"] == 0 and set(acked) <= set(self.ch.ids(db))
            self.assertTrue(wait_until(done, timeout=120, interval=0.5), "%s\n%s" % (health(m), m.log()))
            # Every replica caught up: each holds its shard's events once, rollups included.
            for node in (1, 2, 3, 4):
                for table in ("usage_events_local", "usage_hourly_local", "usage_daily_local"):
                    self.ch.query("SYSTEM SYNC REPLICA %s.%s" % (db, table), node)
            stored = self.ch.ids(db)
            self.assertEqual(set(acked) - set(stored), set(), "acknowledged, not stored")
            self.assertEqual(set(stored) - set(acked) - set(unknown), set(), "stored, never sent")
            self.assertEqual(max(stored.values()), 1)
            for node in (1, 2, 3, 4):
                shard_events = self.local_count(db, node)
                for rollup in ("usage_hourly_local", "usage_daily_local"):
                    self.assertEqual(int(self.ch.query("SELECT sum(events) FROM %s.%s" % (db, rollup), node)),
                                     shard_events, "node %d %s" % (node, rollup))
            self.assertEqual(self.local_count(db, 2), self.local_count(db, 1))
            self.assertEqual(self.local_count(db, 4), self.local_count(db, 3))
            self.assertEqual(self.local_count(db, 1) + self.local_count(db, 3), len(stored))
            reconcile = self.cli(data_dir, db, "reconcile")
            self.assertEqual(reconcile.returncode, 0, reconcile.stdout + reconcile.stderr)
            self.assertIn("0 with drift", reconcile.stdout)
        finally:
            stop.set()
            sender.join()
            for node in (2, 3, 4):
                self.ch.start_node(node)
            state["m"].cleanup()
            subprocess.run(["rm", "-rf", data_dir])

    # Verifies usage and invoices read from the cluster equal the embedded store's for the same
    # events, tenants spread over both shards, the billing run's too; and retention drops an old
    # month on every node.
    def test_same_answers_as_embedded_store(self):
        db = "same"
        now = time.gmtime()
        month = now.tm_year, now.tm_mon  # the events' month
        with self.meterd(db) as m, Meterd() as embedded:
            for target in (m, embedded):
                self.assertEqual(len(send_events(target, "s", 2000)), 2000)
            self.assertTrue(wait_until(lambda: health(m)["backend"]["backlog_events"] == 0 and
                                       len(self.ch.ids(db)) == 2000, timeout=90))
            for tenant in ("t0", "t1", "t2", "t3"):
                for path in ("/v1/usage?tenant_id=%s&window=day" % tenant,
                             "/v1/usage?tenant_id=%s&window=hour&time_zone=Asia/Kolkata" % tenant):
                    a, b = m.answer("GET", path), embedded.answer("GET", path)
                    self.assertEqual((a["buckets"], a["totals"]), (b["buckets"], b["totals"]), path)
                invoice = "/invoice/generate"
                body = {"tenant_id": tenant, "year": month[0], "month": month[1]}
                a, b = m.answer("POST", invoice, body), embedded.answer("POST", invoice, body)
                self.assertEqual(a["source"], "rollups")
                self.assertEqual((a["line_items"], a["total"]), (b["line_items"], b["total"]))
                self.assertNotEqual(a["total"], "0")
            # the billing run over every tenant: the same summary and invoices
            runs = []
            for target, settings in ((m, self.settings(db)), (embedded, [])):
                out = os.path.join(target.data_dir, "run")
                run = subprocess.run([METERD_BIN, "--data-dir", target.data_dir] + settings +
                                     ["billing-run", "--month", "%04d-%02d" % month, "--out", out],
                                     capture_output=True, text=True, timeout=120)
                self.assertEqual(run.returncode, 0, run.stderr)
                with open(os.path.join(out, "summary.csv")) as f:
                    summary = f.read()
                with open(os.path.join(out, "INV-%04d%02d-t2.json" % month)) as f:
                    runs.append((summary, json.loads(f.read())["line_items"]))
            self.assertEqual(runs[0], runs[1])
            self.assertIn("t3", runs[0][0])
            shards = {int(self.ch.query("SELECT uniqExact(tenant_id) FROM %s.usage_events_local" % db, node))
                      for node in (1, 3)}
            self.assertNotIn(0, shards, "tenants on both shards")

            self.ch.query("INSERT INTO %s.usage_events (id, tenant_id, event_type, quantity, timestamp, timestamp_ms, "
                          "received_at, metadata, batch_id) VALUES ('old', 't1', 'query', 2, "
                          "toDateTime('2020-01-15 00:00:00', 'UTC'), 0, now(), '{}', 'x')" % db)
            self.assertTrue(wait_until(lambda: self.ch.ids(db).get("old") == 1, timeout=30))
            dropped = self.cli(m.data_dir, db, "retention", "apply")
            self.assertEqual(dropped.returncode, 0, dropped.stderr)
            self.assertIn("dropped 2020-01", dropped.stdout)
            for node in (1, 2, 3, 4):
                self.assertEqual(self.ch.query("SELECT count() FROM %s.usage_events_local WHERE "
                                               "toYYYYMM(timestamp) = 202001" % db, node).strip(), "0")
            self.assertEqual(len(self.ch.ids(db)), 2000)


if __name__ == "__main__":
    main()
