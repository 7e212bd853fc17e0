"""End-to-end: prepaid-credit rules (docs/credits.md) against the real binary: a top-up asked for
exactly once per crossing under racing connections and not spendable until paid (golden case 19),
low-balance and depletion notices to a real signed webhook, recurring monthly grants with their
rollover, and the rules API's refusals."""
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import threading
import unittest
from decimal import Decimal

from harness import METERD_BIN, Meterd, main, wait_until
from test_alerts import SECRET, Receiver
from test_credits import iso, now

CONFIG = """
[plans.api.meters.api_call]
unit_price = 0.01
"""


class CreditRulesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="meterd-credit-rules-")
        cls.config = os.path.join(cls.dir, "meterd.toml")
        with open(cls.config, "w") as f:
            f.write(CONFIG)
        cls.receiver = Receiver()
        cls.m = Meterd(data_dir=cls.dir, extra_args=[
            "--config", cls.config, "--set", "quota.webhook_url=" + cls.receiver.url,
            "--set", "quota.webhook_secret=" + SECRET]).start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()
        cls.receiver.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    # --- helpers --------------------------------------------------------------------------
    def tenant(self, name, enforcement="hard"):
        self.assertEqual(self.m.request("PUT", "/v1/tenants/%s/plan" % name, {"plan": "api"})[0], 200)
        status, _, body = self.m.request("PUT", "/v1/tenants/%s/credits/settings" % name, {"enforcement": enforcement})
        self.assertEqual(status, 200, body)
        return name

    def grant(self, tenant, key, amount):
        status, _, lot = self.m.request("POST", "/v1/tenants/%s/credits/grants" % tenant, {"amount": amount},
                                        headers={"Idempotency-Key": key})
        self.assertEqual(status, 201, lot)
        return lot

    def rule(self, tenant, expect=201, **body):
        status, _, rule = self.m.post("/v1/tenants/%s/credits/rules" % tenant, body)
        self.assertEqual(status, expect, rule)
        return rule

    def balance(self, tenant):
        return self.m.get("/v1/tenants/%s/credits/balance" % tenant)[2]

    def race(self, tenant, prefix, connections, per_connection):
        """Single-event batches of api_call from racing connections; the statuses seen."""
        statuses = []
        lock = threading.Lock()

        def client(c):
            conn = self.m.connection()
            for i in range(per_connection):
                status, _, _ = self.m.post("/v1/events", [{"id": "%s-%d-%d" % (prefix, c, i), "tenant_id": tenant,
                                                           "event_type": "api_call", "timestamp": iso(now())}],
                                           conn=conn)
                with lock:
                    statuses.append(status)
            conn.close()

        threads = [threading.Thread(target=client, args=(c,)) for c in range(connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return statuses

    def posted(self, tenant, kind):
        """The webhook posts of one notice type for the tenant, each checked for its signature."""
        out = []
        for i, (signature, body) in enumerate(list(self.receiver.posts)):
            notice = json.loads(body)
            if notice.get("tenant_id") != tenant or notice.get("type") != kind:
                continue
            stamp = self.receiver.timestamps[i]
            expected = "sha256=" + hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            self.assertEqual(signature, expected)
            out.append(notice)
        return out

    def notices(self, tenant):
        return [n["notice"] for n in self.m.get("/v1/tenants/%s/credits/notices" % tenant)[2]["notices"]]

    # --- golden case 19 -------------------------------------------------------------------
    # Verifies a top-up is asked for exactly once when 1,000 racing $0.01 events cross $5, its lot
    # is not spendable (402 at zero) until activated, and a second crossing asks again.
    def test_topup_is_requested_once_per_crossing(self):
        t = self.tenant("t_topup")
        self.grant(t, "g1", "6.00")
        rule = self.rule(t, kind="top_up", threshold="5.00", amount="20.00", category="paid")
        statuses = self.race(t, "a", 50, 20)
        self.assertEqual(statuses.count(200), 600)
        self.assertEqual(statuses.count(402), 400)
        b = self.balance(t)
        self.assertEqual(Decimal(b["available"]), 0)
        self.assertEqual(Decimal(b["pending"]), Decimal("20"))
        pending = [g for g in b["grants"] if g["status"] == "awaiting_payment"]
        self.assertEqual(len(pending), 1)
        self.assertEqual((pending[0]["rule_id"], Decimal(pending[0]["amount"])), (rule["rule_id"], Decimal("20")))
        self.assertTrue(wait_until(lambda: len(self.posted(t, "credits.topup_requested")) == 1))
        asked = self.posted(t, "credits.topup_requested")[0]
        self.assertEqual((asked["grant_id"], asked["amount"], asked["threshold"], asked["currency"]),
                         (pending[0]["grant_id"], "20", "5", "USD"))
        self.assertEqual(Decimal(asked["balance"]) < 5, True)
        self.assertTrue(wait_until(lambda: len(self.posted(t, "credits.depleted")) == 1))
        # Not spendable until paid.
        self.assertEqual(self.race(t, "b", 1, 1), [402])
        path = "/v1/tenants/%s/credits/grants/%s/activate" % (t, pending[0]["grant_id"])
        status, _, lot = self.m.post(path)
        self.assertEqual((status, lot["status"], Decimal(lot["remaining"])), (200, "active", Decimal("20")))
        self.assertEqual(self.m.post(path)[2], lot)  # activating again answers the same
        self.assertEqual(Decimal(self.balance(t)["available"]), Decimal("20"))
        self.assertEqual([x["kind"] for x in self.ledger(t)].count("grant"), 2)
        # 20.00 down to 4.99 crosses again: one more request, none while it awaits payment.
        self.assertEqual(self.race(t, "c", 10, 151).count(200), 1510)
        self.assertEqual(Decimal(self.balance(t)["available"]), Decimal("4.9"))
        self.assertTrue(wait_until(lambda: len(self.posted(t, "credits.topup_requested")) == 2))
        self.assertEqual(self.race(t, "d", 4, 200).count(200), 490)
        self.assertEqual(len([g for g in self.balance(t)["grants"] if g["status"] == "awaiting_payment"]), 1)
        self.assertEqual([n["type"] for n in self.notices(t)].count("credits.topup_requested"), 2)
        self.assertEqual(len(self.posted(t, "credits.topup_requested")), 2)

    def ledger(self, tenant):
        return self.m.get("/v1/tenants/%s/credits/ledger?limit=1000" % tenant)[2]["transactions"]

    # Verifies credits.low fires once when the balance falls below its threshold and
    # credits.depleted once at zero (soft: usage goes on, billed); a new grant re-arms both.
    def test_low_and_depleted_notices_fire_once_per_crossing(self):
        t = self.tenant("t_low", enforcement="soft")
        self.grant(t, "g1", "1.00")
        self.rule(t, kind="low_balance", threshold="0.50")
        self.assertEqual(self.race(t, "a", 4, 40).count(200), 160)
        self.assertTrue(wait_until(lambda: len(self.posted(t, "credits.depleted")) == 1))
        self.assertEqual(len(self.posted(t, "credits.low")), 1)
        low = self.posted(t, "credits.low")[0]
        self.assertEqual(low["threshold"], "0.5")
        self.assertLess(Decimal(low["balance"]), Decimal("0.5"))
        self.grant(t, "g2", "1.00")
        self.assertEqual(self.race(t, "b", 2, 60).count(200), 120)
        self.assertTrue(wait_until(lambda: len(self.posted(t, "credits.depleted")) == 2))
        self.assertEqual(len(self.posted(t, "credits.low")), 2)
        self.assertEqual(sorted(n["type"] for n in self.notices(t)),
                         ["credits.depleted"] * 2 + ["credits.low"] * 2)
        # Burnt: both 1.00 lots (the rest of the usage was billed, not burnt).
        burn = self.m.get("/v1/tenants/%s/credits/burn_rate" % t)[2]
        self.assertEqual((burn["days"], burn["consumed"], burn["per_day"], burn["available"], burn["days_left"]),
                         (7, "2", "0.285714285714", "0", 0))
        self.assertEqual(self.m.get("/v1/tenants/%s/credits/burn_rate?days=0" % t)[0], 400)
        metrics = self.m.get("/metrics")[2]
        fired = [l for l in metrics.splitlines() if l.startswith("meterd_credit_notices_total ")]
        self.assertEqual(len(fired), 1, metrics)
        self.assertGreaterEqual(int(fired[0].split()[1]), 4)

    # Verifies the rules API: list, delete (then 404), and 400s that name the field.
    def test_rules_api(self):
        t = self.tenant("t_rules_api")
        r = self.rule(t, kind="low_balance", threshold="2")
        self.assertEqual([x["rule_id"] for x in self.m.get("/v1/tenants/%s/credits/rules" % t)[2]["rules"]],
                         [r["rule_id"]])
        cli = subprocess.run([METERD_BIN, "credits", "rules", "--tenant", t, "--url", "http://127.0.0.1:%d" % self.m.port],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(cli.returncode, 0, cli.stderr)
        self.assertEqual(cli.stdout.splitlines()[1].split()[:3], [r["rule_id"], "low_balance", "2"])
        for body, field in [({"kind": "nope"}, "kind"), ({"kind": "low_balance"}, "threshold"),
                            ({"kind": "low_balance", "threshold": "-1"}, "threshold"),
                            ({"kind": "low_balance", "threshold": "1", "amount": "2"}, "amount"),
                            ({"kind": "top_up", "threshold": "1"}, "amount"),
                            ({"kind": "top_up", "threshold": "1", "amount": "2", "expires_after": "3 days"},
                             "expires_after"),
                            ({"kind": "recurring", "amount": "2", "threshold": "1"}, "threshold"),
                            ({"kind": "recurring", "amount": "2", "starts": "2026-13"}, "starts"),
                            ({"kind": "recurring", "amount": "2", "color": "red"}, "color")]:
            problem = self.rule(t, expect=400, **body)
            self.assertIn(field, json.dumps(problem), body)
        # With an Idempotency-Key, a retry adds the rule once; the key with another body is 409.
        body = {"kind": "top_up", "threshold": "1", "amount": "5"}
        keyed = self.m.request("POST", "/v1/tenants/%s/credits/rules" % t, body, headers={"Idempotency-Key": "k1"})
        again = self.m.request("POST", "/v1/tenants/%s/credits/rules" % t, body, headers={"Idempotency-Key": "k1"})
        self.assertEqual((keyed[0], again[0], again[2]), (201, 200, keyed[2]))
        other = self.m.request("POST", "/v1/tenants/%s/credits/rules" % t, dict(body, amount="6"),
                               headers={"Idempotency-Key": "k1"})
        self.assertEqual(other[0], 409, other[2])
        self.assertEqual(self.m.request("DELETE", "/v1/tenants/%s/credits/rules/%s" % (t, keyed[2]["rule_id"]))[0], 204)
        path = "/v1/tenants/%s/credits/rules/%s" % (t, r["rule_id"])
        self.assertEqual(self.m.request("DELETE", path)[0], 204)
        self.assertEqual(self.m.request("DELETE", path)[0], 404)
        self.assertEqual(self.m.get("/v1/tenants/%s/credits/rules" % t)[2]["rules"], [])

    # Verifies a voided top-up cannot be activated, and that an unknown grant is 404.
    def test_voided_topup_cannot_be_activated(self):
        t = self.tenant("t_topup_void")
        self.grant(t, "g1", "0.10")
        self.rule(t, kind="top_up", threshold="0.05", amount="1.00")
        self.assertEqual(self.race(t, "a", 1, 6).count(200), 6)
        pending = [g for g in self.balance(t)["grants"] if g["status"] == "awaiting_payment"]
        self.assertEqual(len(pending), 1)
        base = "/v1/tenants/%s/credits/grants/" % t
        voided = self.m.post(base + pending[0]["grant_id"] + "/void")[2]
        self.assertEqual((voided["status"], Decimal(voided["voided"])), ("voided", 0))
        status, _, problem = self.m.post(base + pending[0]["grant_id"] + "/activate")
        self.assertEqual(status, 409, problem)
        cli = subprocess.run([METERD_BIN, "credits", "activate", "--tenant", t, "--grant", pending[0]["grant_id"],
                              "--url", "http://127.0.0.1:%d" % self.m.port], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(cli.returncode, 0)
        self.assertIn("voided before its payment arrived", cli.stderr)
        self.assertEqual(self.m.post(base + "grant_nope/activate")[0], 404)
        self.assertEqual(Decimal(self.balance(t)["available"]), Decimal("0.04"))


def month_back(n):
    """The UTC month n months before now, as YYYY-MM."""
    t = now()
    y, m = t.year, t.month - n
    while m < 1:
        y, m = y - 1, m + 12
    return "%04d-%02d" % (y, m)


class RecurringRuleTest(unittest.TestCase):
    # Verifies a monthly rule started two months back grants each month's lot at once and rolls
    # each ended month into the next (capped at 5.00), and a restart books nothing twice.
    def test_each_month_once_with_rollover(self):
        folder = tempfile.mkdtemp(prefix="meterd-recurring-")
        try:
            config = os.path.join(folder, "meterd.toml")
            with open(config, "w") as f:
                f.write(CONFIG)
            with Meterd(data_dir=folder, extra_args=["--config", config]) as m:
                self.assertEqual(m.request("PUT", "/v1/tenants/t_monthly/plan", {"plan": "api"})[0], 200)
                status, _, rule = m.post("/v1/tenants/t_monthly/credits/rules",
                                         {"kind": "recurring", "amount": "10.00", "starts": month_back(2),
                                          "rollover_max": "5.00", "rollover_priority": 40,
                                          "rollover_expires_after": "P2M"})
                self.assertEqual(status, 201, rule)
                self.assertEqual((rule["starts"], rule["rollover_max"]), (month_back(2), "5"))
                first = m.get("/v1/tenants/t_monthly/credits/balance")[2]
            with Meterd(data_dir=folder, extra_args=["--config", config]) as m:
                again = m.get("/v1/tenants/t_monthly/credits/balance")[2]
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self.assertEqual(again["grants"], first["grants"])
        lots = {g["name"]: g for g in first["grants"]}
        self.assertEqual(sorted(lots), sorted([month_back(2), month_back(1), month_back(0),
                                               "rollover of " + month_back(2), "rollover of " + month_back(1)]))
        self.assertEqual({g["rule_id"] for g in first["grants"]}, {rule["rule_id"]})
        for back in (2, 1):
            ended = lots[month_back(back)]
            self.assertEqual((ended["status"], Decimal(ended["rolled_over"])), ("expired", Decimal("5")))
            self.assertEqual(lots["rollover of " + month_back(back)]["priority"], 40)
        self.assertEqual(lots[month_back(0)]["status"], "active")
        # This month's lot and both rollover lots (each lasts two months) can be spent now.
        self.assertEqual(Decimal(first["available"]), Decimal("20"))


if __name__ == "__main__":
    main()
