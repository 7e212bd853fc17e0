"""Prepaid credit on a shared PostgreSQL (docs/credits.md, docs/postgresql.md): nodes racing at
zero never overspend by a cent, the same ids sent to two nodes burn once, a grant or void made
through one node holds on every node, and the invoice and statement say the same as on the
embedded store."""
import datetime
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
from decimal import Decimal

from harness import METERD_BIN, Meterd, main, wait_until
from postgres import Postgres

CONFIG = """
[plans.api.meters.api_call]
unit_price = 0.01

[plans.volume.meters.api_call]
model = "volume"
tiers = [{ up_to = 1000, unit_price = 0.01 }, { unit_price = 0.008 }]
"""


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def now():
    return datetime.datetime.now(datetime.timezone.utc)


class PostgresCreditsTest(unittest.TestCase):
    def setUp(self):
        self.pg = Postgres().start()
        self.dir = tempfile.mkdtemp(prefix="meterd-pg-credits-")
        self.config = os.path.join(self.dir, "meterd.toml")
        with open(self.config, "w") as f:
            f.write(CONFIG)

    def tearDown(self):
        self.pg.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def node(self, store=None):
        args = ["--config", self.config]
        if store is None:
            args += ["--store", self.pg.url]
        return Meterd(data_dir=store, extra_args=args)

    def tenant(self, node, name, plan, enforcement="hard"):
        self.assertEqual(node.request("PUT", "/v1/tenants/%s/plan" % name, {"plan": plan})[0], 200)
        status, _, body = node.request("PUT", "/v1/tenants/%s/credits/settings" % name,
                                       {"enforcement": enforcement})
        self.assertEqual(status, 200, body)

    def grant(self, node, tenant, key, **body):
        status, _, lot = node.request("POST", "/v1/tenants/%s/credits/grants" % tenant, body,
                                      headers={"Idempotency-Key": key})
        self.assertEqual(status, 201, lot)
        return lot

    def available(self, node, tenant):
        return Decimal(node.get("/v1/tenants/%s/credits/balance" % tenant)[2]["available"])

    def ledger(self, node, tenant):
        return node.get("/v1/tenants/%s/credits/ledger?limit=1000" % tenant)[2]["transactions"]

    def assert_ledger_balances(self, node, tenant):
        txns = self.ledger(node, tenant)
        self.assertTrue(txns)
        for txn in txns:
            self.assertEqual(sum(Decimal(e["amount"]) for e in txn["entries"]), 0, txn)

    def race(self, nodes, tenant, ids_of, connections=32):
        """Each node gets `connections` clients, each sending ids_of(node index, client) one by one;
        returns every status."""
        statuses, lock = [], threading.Lock()

        def client(node, ids):
            conn = node.connection()
            mine = []
            for i in ids:
                status, _, _ = node.post("/v1/events", [{"id": i, "tenant_id": tenant, "event_type": "api_call",
                                                         "quantity": 1, "timestamp": iso(now())}], conn=conn)
                mine.append(status)
            conn.close()
            with lock:
                statuses.extend(mine)

        threads = [threading.Thread(target=client, args=(node, ids_of(n, c)))
                   for n, node in enumerate(nodes) for c in range(connections)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        return statuses

    # Golden case 2 across nodes: 2 nodes x 32 connections x 10 distinct $0.01 events against
    # $1.00 (hard): exactly 100 stored, the rest 402, nothing overspent, both nodes read 0. Then
    # the same 30 ids sent to both nodes at once against $0.50 more: stored once, burnt once.
    def test_nodes_racing_at_zero_never_overspend(self):
        with self.node() as a, self.node() as b:
            t = "pg_race"
            self.tenant(a, t, "api")
            self.grant(a, t, "g1", amount="1.00", name="one")
            time.sleep(0.6)  # b learns of the tenant's credit within a second (the follower's poll)
            statuses = self.race((a, b), t, lambda n, c: ["r%d-%d-%d" % (n, c, i) for i in range(10)])
            self.assertEqual((statuses.count(200), statuses.count(402)), (100, 540))
            self.assertEqual(int(self.pg.query("SELECT count(*) FROM usage_events WHERE tenant_id = 'pg_race'")[0][0]),
                             100)
            self.assertEqual((self.available(a, t), self.available(b, t)), (0, 0))
            self.grant(b, t, "g2", amount="0.50", name="half")
            statuses = self.race((a, b), t, lambda n, c: ["same-%d" % i for i in range(c, 30, 32)] if c < 30 else [],
                                 connections=30)
            self.assertEqual(statuses.count(200), 60)  # each id: stored by one node, a duplicate on the other
            self.assertEqual(len(self.pg.query("SELECT id FROM usage_events WHERE id LIKE 'same-%'")), 30)
            self.assertEqual((self.available(a, t), self.available(b, t)), (Decimal("0.2"), Decimal("0.2")))
            lots = {l["name"]: l for l in b.get("/v1/tenants/%s/credits/grants" % t)[2]["grants"]}
            self.assertEqual((lots["one"]["consumed"], lots["half"]["consumed"]), ("1", "0.3"))
            self.assert_ledger_balances(a, t)

    # Golden case 19 across nodes: 2 nodes x 16 connections x 20 racing $0.01 events against
    # $6.00 with a $5 top-up rule and a $3 low-balance rule: exactly 600 stored, one top-up lot
    # awaiting payment and one notice of each kind, whichever node's group crossed; activated
    # through the other node, the lot is spendable on both.
    def test_thresholds_fire_once_across_nodes(self):
        with self.node() as a, self.node() as b:
            t = "pg_topup"
            self.tenant(a, t, "api")
            self.grant(a, t, "g1", amount="6.00", name="six")
            for node, rule in ((a, {"kind": "top_up", "threshold": "5", "amount": "20", "category": "paid"}),
                               (b, {"kind": "low_balance", "threshold": "3"})):
                status, _, body = node.post("/v1/tenants/%s/credits/rules" % t, rule)
                self.assertEqual(status, 201, body)
            time.sleep(0.6)
            statuses = self.race((a, b), t, lambda n, c: ["x%d-%d-%d" % (n, c, i) for i in range(20)],
                                 connections=16)
            self.assertEqual((statuses.count(200), statuses.count(402)), (600, 40))
            notices = [n["notice"]["type"] for n in a.get("/v1/tenants/%s/credits/notices" % t)[2]["notices"]]
            self.assertEqual(sorted(notices), ["credits.depleted", "credits.low", "credits.topup_requested"])
            balance = b.get("/v1/tenants/%s/credits/balance" % t)[2]
            pending = [g for g in balance["grants"] if g["status"] == "awaiting_payment"]
            self.assertEqual((balance["available"], balance["pending"], len(pending)), ("0", "20", 1))
            path = "/v1/tenants/%s/credits/grants/%s/activate" % (t, pending[0]["grant_id"])
            status, _, lot = a.post(path)
            self.assertEqual((status, lot["status"]), (200, "active"), lot)
            self.assertEqual((self.available(a, t), self.available(b, t)), (20, 20))
            time.sleep(0.6)
            self.assertEqual(b.post("/v1/events", [{"id": "after", "tenant_id": t, "event_type": "api_call",
                                                    "quantity": 1, "timestamp": iso(now())}])[0], 200)
            self.assertEqual(self.available(a, t), Decimal("19.99"))
            self.assert_ledger_balances(a, t)

    # A grant, a void and the enforcement changed through one node hold on the other within a
    # second; the other node's burns price the line where the first left it (volume tiers).
    def test_changes_reach_every_node(self):
        with self.node() as a, self.node() as b:
            t = "pg_follow"
            self.tenant(a, t, "volume")
            lot = self.grant(a, t, "g1", amount="20", name="twenty")
            wait_until(lambda: b.get("/v1/tenants/%s/credits/balance" % t)[2]["available"] == "20")
            time.sleep(0.6)  # the follower's poll (250 ms) tells b's writer of the tenant
            events = lambda prefix, n: [{"id": "%s%d" % (prefix, i), "tenant_id": t, "event_type": "api_call",
                                         "quantity": 1, "timestamp": iso(now())} for i in range(n)]
            self.assertEqual(b.post("/v1/events", events("b", 600))[0], 200)
            self.assertEqual(a.post("/v1/events", events("a", 600))[0], 200)
            # 1,200 calls at the volume price: 1,200 x 0.008 = 9.60 (the first 1,000 were 0.01 until
            # the tier moved: the line's burns add up to its exact price all the same).
            self.assertEqual(self.available(a, t), Decimal("10.4"))
            self.assertEqual(self.available(b, t), Decimal("10.4"))
            status, _, voided = b.request("POST", "/v1/tenants/%s/credits/grants/%s/void" % (t, lot["grant_id"]))
            self.assertEqual(status, 200, voided)
            self.assertEqual(voided["voided"], "10.4")
            time.sleep(0.6)
            status, _, body = a.post("/v1/events", events("late", 1))
            self.assertEqual(status, 402, body)
            self.assert_ledger_balances(b, t)
            status, _, body = b.request("PUT", "/v1/tenants/%s/credits/settings" % t, {"enforcement": "soft"})
            self.assertEqual(status, 200, body)
            time.sleep(0.6)
            self.assertEqual(a.post("/v1/events", events("soft", 1))[0], 200)

    # The same grants and events through the embedded store and through PostgreSQL: the same
    # invoice credit, statement and reconcile answers.
    def test_same_answers_as_the_embedded_store(self):
        month = now().strftime("%Y-%m")
        answers = []
        embedded = os.path.join(self.dir, "embedded")
        os.makedirs(embedded)
        for store in (embedded, None):
            with self.node(store) as m:
                t = "pg_same"
                self.tenant(m, t, "volume", enforcement="soft")
                self.grant(m, t, "g1", amount="5", name="five", priority=10)
                self.grant(m, t, "g2", amount="3", name="three", category="promotional")
                events = [{"id": "e%d" % i, "tenant_id": t, "event_type": "api_call", "quantity": 1,
                           "timestamp": iso(now())} for i in range(1100)]
                for chunk in range(0, 1100, 100):
                    self.assertEqual(m.post("/v1/events", events[chunk:chunk + 100])[0], 200)
                invoice = m.get("/v1/tenants/%s/invoices/%s" % (t, month))[2]
                statement = m.get("/v1/tenants/%s/credits/statement?month=%s" % (t, month))[2]
                names = {l["grant_id"]: l["name"] for l in m.get("/v1/tenants/%s/credits/grants" % t)[2]["grants"]}
                answers.append((self.strip(invoice["credits"], names), self.strip(statement, names),
                                invoice["amount_due"], invoice["subtotal"]))
        self.assertEqual(answers[0], answers[1])
        self.assertEqual(answers[1][2], "0.8")  # 1,100 x 0.008 = 8.80, less 8 of credit
        env = dict(os.environ, METERD_CONFIG=self.config)
        done = subprocess.run([METERD_BIN, "reconcile", "--store", self.pg.url, "--config", self.config],
                              capture_output=True, text=True, env=env)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    def strip(self, value, names):
        """The value with lot ids named and instants dropped (they differ between the runs)."""
        if isinstance(value, dict):
            return {k: self.strip(v, names) for k, v in value.items() if not k.endswith("_at") and k != "as_of"}
        if isinstance(value, list):
            return [self.strip(v, names) for v in value]
        return names.get(value, value) if isinstance(value, str) else value


if __name__ == "__main__":
    main()
