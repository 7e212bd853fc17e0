"""End-to-end: prepaid credit (docs/credits.md) against the real binary. The golden cases of
the credits research, each exact to the 10^-12 unit: burns that telescope to the line's exact
price, the hard stop under 64 racing connections, no partial burn, the burn order, scoped lots
first, expiry instants in the tenant's zone, volume tiers that give credit back, free
allowances, packages, idempotent grants, voids, point-in-time balances, a restart and kill -9."""
import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
from decimal import Decimal

from harness import METERD_BIN, Meterd, main

CONFIG = """
[plans.api.meters.api_call]
unit_price = 0.01

[plans.tokens.meters.input_tokens]
unit_price = 0.003
per = 1000

[plans.scoped.meters.input_tokens]
unit_price = 1
[plans.scoped.meters.output_tokens]
unit_price = 1

[plans.volume.meters.api_call]
model = "volume"
tiers = [{ up_to = 1000, unit_price = 0.01 }, { unit_price = 0.008 }]

[plans.graduated.meters.api_call]
model = "graduated"
free_allowance = 1000
tiers = [{ up_to = 1000, unit_price = 0.01 }, { unit_price = 0.005 }]

[plans.thirds.meters.a]
unit_price = 0.001
[plans.thirds.meters.b]
unit_price = 0.001
[plans.thirds.meters.c]
unit_price = 0.001

[plans.minimum]
minimum_commitment = 20
[plans.minimum.meters.api_call]
unit_price = 0.01

[plans.package.meters.api_call]
model = "package"
package_size = 100
unit_price = 1
"""


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def now():
    return datetime.datetime.now(datetime.timezone.utc)


class CreditsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="meterd-credits-")
        cls.config = os.path.join(cls.dir, "meterd.toml")
        with open(cls.config, "w") as f:
            f.write(CONFIG)
        # Corrections may reach finalized months (their notes give credit back).
        cls.m = Meterd(data_dir=cls.dir, extra_args=["--config", cls.config],
                       env={"METERD_CORRECTION_WINDOW_DAYS": "60"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    # --- helpers --------------------------------------------------------------------------
    def tenant(self, name, plan, enforcement="hard", zone=None):
        self.assertEqual(self.m.request("PUT", "/v1/tenants/%s/plan" % name, {"plan": plan})[0], 200)
        if zone:
            self.assertEqual(self.m.post("/quota/set", {"tenant_id": name, "time_zone": zone})[0], 200)
        status, _, body = self.m.request("PUT", "/v1/tenants/%s/credits/settings" % name, {"enforcement": enforcement})
        self.assertEqual(status, 200, body)
        return name

    def grant(self, tenant, key, expect=201, **body):
        status, _, lot = self.m.request("POST", "/v1/tenants/%s/credits/grants" % tenant, body,
                                        headers={"Idempotency-Key": key})
        self.assertEqual(status, expect, lot)
        return lot

    def send(self, tenant, event_type, quantities, prefix, at=None):
        """One batch; returns the per-event statuses."""
        ts = iso(at or now())
        events = [{"id": "%s-%d" % (prefix, i), "tenant_id": tenant, "event_type": event_type, "quantity": q,
                   "timestamp": ts} for i, q in enumerate(quantities)]
        status, _, body = self.m.post("/v1/events", events)
        self.assertIn(status, (200, 207, 402), body)
        return [r["status"] for r in body["results"]]

    def one(self, tenant, event_type, quantity, event_id, at=None):
        status, _, body = self.m.post("/v1/events", [{"id": event_id, "tenant_id": tenant, "event_type": event_type,
                                                      "quantity": quantity, "timestamp": iso(at or now())}])
        return status, body

    def lots(self, tenant):
        return {l["name"]: l for l in self.m.get("/v1/tenants/%s/credits/grants" % tenant)[2]["grants"]}

    def available(self, tenant, **query):
        path = "/v1/tenants/%s/credits/balance" % tenant
        if query:
            path += "?" + "&".join("%s=%s" % kv for kv in query.items())
        return Decimal(self.m.get(path)[2]["available"])

    def ledger(self, tenant):
        txns, after = [], 0
        while True:
            page = self.m.get("/v1/tenants/%s/credits/ledger?limit=1000&after=%d" % (tenant, after))[2]
            txns += page["transactions"]
            if page["next_after"] is None:
                return txns
            after = page["next_after"]

    def assert_ledger_balances(self, tenant):
        for txn in self.ledger(tenant):
            self.assertEqual(sum(Decimal(e["amount"]) for e in txn["entries"]), 0, txn)

    # --- golden cases -----------------------------------------------------------------------
    # Case 1: 1,000 one-token events at $0.003 per 1,000 each burn 0.000003; the burns add up
    # to the line's exact price and the ledger says the same.
    def test_burns_telescope_to_the_exact_line(self):
        t = self.tenant("cr_telescope", "tokens")
        self.grant(t, "g1", amount="10.00", name="ten")
        for batch in range(4):
            self.assertEqual(set(self.send(t, "input_tokens", [1] * 250, "tok%d" % batch)), {"accepted"})
        self.send(t, "input_tokens", [333, 7], "odd")
        self.assertEqual(self.available(t), Decimal("10") - Decimal("0.00402"))
        lot = self.lots(t)["ten"]
        self.assertEqual((lot["consumed"], lot["remaining"]), ("0.00402", "9.99598"))
        burns = [e for x in self.ledger(t) if x["kind"] == "burn" for e in x["entries"] if e["account"] == "usage"]
        self.assertEqual(sum(Decimal(e["amount"]) for e in burns), Decimal("0.00402"))
        self.assert_ledger_balances(t)

    # Case 2: 64 connections x 10 distinct $0.01 events against $1.00: exactly 100 stored.
    def test_hard_stop_is_exact_under_64_connections(self):
        t = self.tenant("cr_race", "api")
        self.grant(t, "g1", amount="1.00", name="one")
        statuses, lock = [], threading.Lock()

        def client(c):
            conn = self.m.connection()
            mine = []
            for i in range(10):
                status, _, _ = self.m.post("/v1/events", [{"id": "r%d-%d" % (c, i), "tenant_id": t,
                                                           "event_type": "api_call", "quantity": 1,
                                                           "timestamp": iso(now())}], conn=conn)
                mine.append(status)
            conn.close()
            with lock:
                statuses.extend(mine)

        threads = [threading.Thread(target=client, args=(c,)) for c in range(64)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.assertEqual((statuses.count(200), statuses.count(402)), (100, 540))
        self.assertEqual(len(self.m.stored_ids(t)), 100)
        self.assertEqual(self.available(t), 0)
        self.assertEqual(self.lots(t)["one"]["consumed"], "1")
        self.assert_ledger_balances(t)
        metrics = dict(l.rsplit(" ", 1) for l in self.m.get("/metrics")[2].splitlines() if l and l[0] != "#")
        self.assertGreaterEqual(int(metrics["meterd_credit_refused_total"]), 540)
        self.assertGreaterEqual(int(metrics["meterd_credit_burning_events_total"]), 100)

    # Case 3: $0.04 left, a $0.10 event: refused whole (hard); admitted with 0.06 due (soft).
    def test_no_partial_burn_and_soft_bills_the_rest(self):
        t = self.tenant("cr_partial", "api")
        self.grant(t, "g1", amount="0.04", name="four")
        status, body = self.one(t, "api_call", 10, "big")
        self.assertEqual(status, 402, body)
        self.assertIn("0.04 of usable credit", body["detail"])
        self.assertEqual(self.available(t), Decimal("0.04"))
        self.assertNotIn("big", self.m.stored_ids(t))
        self.m.request("PUT", "/v1/tenants/%s/credits/settings" % t, {"enforcement": "soft"})
        self.assertEqual(self.one(t, "api_call", 10, "big")[0], 200)
        self.assertEqual(self.available(t), 0)
        burn = [x for x in self.ledger(t) if x["kind"] == "burn"][-1]
        amounts = {(e["account"], e["grant_id"] != ""): e["amount"] for e in burn["entries"]}
        self.assertEqual(amounts, {("credit", True): "-0.04", ("usage", True): "0.04", ("due", False): "-0.06",
                                   ("usage", False): "0.06"})

    # Case 4: priority, then expiry, then promotional before paid; then later expiry.
    def test_burn_order(self):
        t = self.tenant("cr_order", "api")
        soon, later = iso(now() + datetime.timedelta(days=10)), iso(now() + datetime.timedelta(days=20))
        self.grant(t, "b", amount="5", name="B", priority=10, category="paid", expires_at=later)
        self.grant(t, "d", amount="5", name="D", priority=10, category="paid", expires_at=soon)
        self.grant(t, "a", amount="5", name="A", priority=10, category="promotional", expires_at=soon)
        self.grant(t, "c", amount="2", name="C", priority=5, category="paid")
        self.assertEqual(set(self.send(t, "api_call", [100] * 8, "o")), {"accepted"})
        lots = self.lots(t)
        self.assertEqual({n: lots[n]["consumed"] for n in "ABCD"}, {"C": "2", "A": "5", "D": "1", "B": "0"})
        self.assertEqual([l["name"] for l in self.m.get("/v1/tenants/%s/credits/grants" % t)[2]["grants"]],
                         ["C", "A", "D", "B"])

    # Case 5: a lot scoped to output_tokens pays for them before the global lot does.
    def test_scoped_before_global(self):
        t = self.tenant("cr_scope", "scoped")
        self.grant(t, "g", amount="10", name="G")
        self.grant(t, "s", amount="3", name="S", scope=["output_tokens"])
        self.send(t, "input_tokens", [4], "in")
        self.send(t, "output_tokens", [5], "out")
        lots = self.lots(t)
        self.assertEqual((lots["G"]["remaining"], lots["S"]["remaining"]), ("4", "0"))

    # Case 6 and 7: expiry is exclusive, in the tenant's zone; month ends are clamped.
    def test_expiry_instants(self):
        kolkata = self.tenant("cr_kolkata", "api", zone="Asia/Kolkata")
        lot = self.grant(kolkata, "e1", amount="1", effective_at="2026-01-01T00:00:00Z", expires_on="2026-03-31")
        self.assertEqual(lot["expires_at"], "2026-03-31T18:30:00.000Z")
        york = self.tenant("cr_york", "api", zone="America/New_York")
        lot = self.grant(york, "e1", amount="1", effective_at="2026-01-01T00:00:00Z", expires_on="2026-03-08")
        self.assertEqual(lot["expires_at"], "2026-03-09T04:00:00.000Z")
        utc = self.tenant("cr_months", "api")
        lot = self.grant(utc, "m1", amount="1", effective_at="2026-01-31T00:00:00Z", expires_after="P1M")
        self.assertEqual(lot["expires_at"], "2026-02-28T00:00:00.000Z")
        lot = self.grant(utc, "m2", amount="1", effective_at="2028-01-31T00:00:00Z", expires_after="P1M")
        self.assertEqual(lot["expires_at"], "2028-02-29T00:00:00.000Z")
        # An event a millisecond before expires_at draws from the lot; one at it does not.
        t = self.tenant("cr_expiry", "api")
        end = now().replace(microsecond=0) - datetime.timedelta(hours=1)
        self.grant(t, "x", amount="1", name="X", effective_at=iso(end - datetime.timedelta(hours=1)), expires_at=iso(end))
        self.assertEqual(self.one(t, "api_call", 1, "before", at=end - datetime.timedelta(milliseconds=1))[0], 200)
        self.assertEqual(self.one(t, "api_call", 1, "at", at=end)[0], 402)
        self.assertEqual(self.lots(t)["X"]["consumed"], "0.01")

    # Case 10: crossing into a cheaper volume tier gives credit back, even at a zero balance.
    def test_volume_tier_gives_credit_back(self):
        t = self.tenant("cr_volume", "volume")
        self.grant(t, "g", amount="20.00", name="V")
        self.assertEqual(set(self.send(t, "api_call", [1] * 1000, "v")), {"accepted"})
        self.assertEqual(self.available(t), Decimal("10"))
        self.assertEqual(self.one(t, "api_call", 1, "v-1001")[0], 200)
        self.assertEqual(self.available(t), Decimal("11.992"))

    # Case 11: the free allowance costs nothing; past it, graduated prices need credit.
    def test_free_allowance_then_graduated(self):
        t = self.tenant("cr_free", "graduated")
        self.assertEqual(set(self.send(t, "api_call", [1] * 1000, "f")), {"accepted"})
        self.assertEqual(self.one(t, "api_call", 1, "f-over")[0], 402)
        self.grant(t, "g", amount="5.00", name="F")
        self.assertEqual(self.send(t, "api_call", [1] * 501, "p"), ["accepted"] * 500 + ["rejected"])
        self.assertEqual(self.available(t), 0)

    # Case 12: a package's first unit costs the whole package; the rest of it is free.
    def test_package(self):
        t = self.tenant("cr_package", "package")
        self.grant(t, "half", amount="0.50", name="half")
        self.assertEqual(self.one(t, "api_call", 1, "u1")[0], 402)
        self.grant(t, "more", amount="0.50", name="more")
        self.assertEqual(self.send(t, "api_call", [1] * 101, "pk"), ["accepted"] * 100 + ["rejected"])
        self.assertEqual(self.available(t), 0)

    # Case 14: the same grant twice is one lot; the same key with another body is a conflict;
    # a duplicate event burns once.
    def test_idempotent_grant_and_duplicate_event(self):
        t = self.tenant("cr_idem", "api")
        first = self.grant(t, "same", amount="100.00", name="I")
        again = self.grant(t, "same", expect=200, amount="100.00", name="I")
        self.assertEqual(first, again)
        status, _, body = self.m.request("POST", "/v1/tenants/%s/credits/grants" % t, {"amount": "200", "name": "I"},
                                         headers={"Idempotency-Key": "same"})
        self.assertEqual(status, 409, body)
        self.assertEqual(self.available(t), Decimal("100"))
        status, _, body = self.m.request("POST", "/v1/tenants/%s/credits/grants" % t, {"amount": "1"})
        self.assertEqual(status, 400, body)
        self.assertEqual(body["field"], "Idempotency-Key")
        self.one(t, "api_call", 1, "dup")
        self.one(t, "api_call", 1, "dup")
        self.assertEqual(self.available(t), Decimal("99.99"))

    # Case 17: a void takes what is left; later events are refused; voiding again books nothing.
    def test_void(self):
        t = self.tenant("cr_void", "api")
        lot = self.grant(t, "v", amount="10", name="V")
        self.send(t, "api_call", [300], "use")
        path = "/v1/tenants/%s/credits/grants/%s/void" % (t, lot["grant_id"])
        status, _, voided = self.m.post(path)
        self.assertEqual((status, voided["voided"], voided["consumed"], voided["status"]), (200, "7", "3", "voided"))
        self.assertEqual(self.one(t, "api_call", 1, "after")[0], 402)
        count = len(self.ledger(t))
        self.assertEqual(self.m.post(path)[2], voided)
        self.assertEqual(len(self.ledger(t)), count)
        self.assertEqual(self.m.post("/v1/tenants/%s/credits/grants/nope/void" % t)[0], 404)
        self.assert_ledger_balances(t)

    # Case 18: the balance at each transaction's instant is the ledger replayed to it.
    def test_point_in_time_balance(self):
        t = self.tenant("cr_asof", "api")
        self.grant(t, "p", amount="1", name="P")
        for i in range(3):
            self.send(t, "api_call", [10], "at%d" % i)
        txns = self.ledger(t)
        running = Decimal(0)
        for x in txns:
            running += sum(Decimal(e["amount"]) for e in x["entries"] if e["account"] == "credit")
            self.assertEqual(self.available(t, as_of=x["at"]), running, x)
        self.assertEqual(self.available(t, as_of="2020-01-01T00:00:00Z"), 0)
        self.assertEqual(running, Decimal("0.7"))

    # Case 8: a $10 lot, $3.20 used, expires: the month's statement says 6.80 expired.
    def test_statement_with_breakage(self):
        t = self.tenant("cr_statement", "api")
        expiry = now() + datetime.timedelta(seconds=3)
        self.grant(t, "s", amount="10.00", name="trial", expires_at=iso(expiry))
        self.grant(t, "v", amount="1", name="gone")
        self.assertEqual(self.send(t, "api_call", [300, 20], "st"), ["accepted", "accepted"])
        void = [l for l in self.lots(t).values() if l["name"] == "gone"][0]["grant_id"]
        self.m.post("/v1/tenants/%s/credits/grants/%s/void" % (t, void))
        month = expiry.strftime("%Y-%m")
        before = self.m.get("/v1/tenants/%s/credits/statements/%s" % (t, month))[2]
        self.assertEqual((before["granted"], before["consumed"], before["voided"], before["expired"], before["closing"]),
                         ("11", "3.2", "1", "0", "6.8"))
        time.sleep(max(0.0, (expiry - now()).total_seconds()) + 0.2)
        after = self.m.get("/v1/tenants/%s/credits/statements/%s" % (t, month))[2]
        self.assertEqual((after["opening"], after["granted"], after["consumed"], after["expired"], after["voided"],
                          after["closing"]), ("0", "11", "3.2", "6.8", "1", "0"))
        trial = [g for g in after["grants"] if g["name"] == "trial"][0]
        self.assertEqual((trial["consumed"], trial["expired"]), ("3.2", "6.8"))
        self.assertEqual(self.m.get("/v1/tenants/%s/credits/statements/2026-13" % t)[0], 400)
        # The same as CSV, for finance: a row per lot and the total, the same figures.
        csv = self.m.get("/v1/tenants/%s/credits/statements/%s?format=csv" % (t, month))[2].splitlines()
        self.assertEqual(csv[0], "tenant_id,month,currency,grant_id,name,category,opening,granted,consumed,expired,"
                                 "rolled_over,voided,closing")
        self.assertEqual(csv[-1], "%s,%s,USD,total,,,0,11,3.2,6.8,0,1,0" % (t, month))
        self.assertEqual(len(csv), 2 + len(after["grants"]))

    def invoice(self, tenant, month=None, csv=False):
        month = month or now().strftime("%Y-%m")
        return self.m.get("/v1/tenants/%s/invoices/%s%s" % (tenant, month, "?format=csv" if csv else ""))[2]

    # Case 3 and 4 on the invoice: credit applied per lot and line, by category, and what is due.
    def test_invoice_shows_credit_and_amount_due(self):
        t = self.tenant("cr_invoice", "api", enforcement="soft")
        soon = iso(now() + datetime.timedelta(days=10))
        self.grant(t, "p", amount="3", name="paid", priority=5, category="paid")
        self.grant(t, "q", amount="5", name="promo", category="promotional", expires_at=soon)
        self.send(t, "api_call", [500, 400], "i")  # 9.00: 3 paid, 5 promotional, 1 due
        inv = self.invoice(t)
        c = inv["credits"]
        self.assertEqual((inv["total"], c["total"], c["paid"], c["promotional"], inv["amount_due"]),
                         ("9", "8", "3", "5", "1"))
        self.assertEqual([(a["name"], a["amount"]) for a in c["applied"]], [("paid", "3"), ("promo", "5")])
        csv = self.invoice(t, csv=True)
        self.assertIn("credit paid (paid,", csv)
        self.assertTrue(csv.rstrip().splitlines()[-1].split(",")[-3] == "1", csv)
        # A tenant without credit keeps the invoice it had: no credits, no amount_due.
        plain = self.tenant("cr_plain", "api", enforcement="off")
        self.send(plain, "api_call", [1], "plain")
        self.assertNotIn("credits", self.invoice(plain))

    # Case 13: three lines round up by a cent more than the credit held: 10.00 applied, 0.01
    # written off, nothing due.
    def test_rounding_shortfall_is_written_off(self):
        t = self.tenant("cr_thirds", "thirds")
        self.grant(t, "g", amount="10.00", name="T")
        for meter, units in (("a", 3335), ("b", 3335), ("c", 3330)):
            self.assertEqual(self.send(t, meter, [units], meter), ["accepted"])
        self.assertEqual(self.available(t), 0)
        inv = self.invoice(t)
        self.assertEqual([l["amount"] for l in inv["line_items"]], ["3.34", "3.34", "3.33"])
        c = inv["credits"]
        self.assertEqual((inv["total"], c["total"], c["write_off"], inv["amount_due"]), ("10.01", "10", "0.01", "0"))
        self.assertEqual(sum(Decimal(a["amount"]) for a in c["applied"]), Decimal("10"))

    # Case 1 at finalization: 9.999999 burnt applies as 10.00 (the true-up 0.000001); the
    # finalized invoice keeps its bytes.
    def test_finalized_invoice_with_credit(self):
        t = self.tenant("cr_final", "tokens")
        first = now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        last_month = first - datetime.timedelta(days=1)
        self.grant(t, "g", amount="10.00", name="F", effective_at=iso(last_month.replace(day=1)))
        day = last_month.replace(hour=10)
        # 3,333,333 tokens burn 9.999999; one more token (0.000003) is more than the 0.000001 left.
        self.assertEqual(self.send(t, "input_tokens", [3333333, 1], "big", at=day), ["accepted", "rejected"])
        self.assertEqual(self.available(t), Decimal("0.000001"))
        month = last_month.strftime("%Y-%m")
        inv = self.invoice(t, month)
        c = inv["credits"]
        self.assertEqual((inv["total"], c["total"], c["rounding"], inv["amount_due"]), ("10", "10", "0.000001", "0"))
        status, _, final = self.m.post("/v1/tenants/%s/invoices/%s/finalize" % (t, month))
        self.assertEqual(status, 201, final)
        self.assertEqual(final["credits"], c)
        self.assertEqual(self.invoice(t, month), final)
        # The true-up is booked once: the lot gives the 0.000001 the line applied beyond its burns.
        self.assertEqual(self.available(t), 0)
        trueups = [x for x in self.ledger(t) if x["kind"] == "trueup"]
        self.assertEqual([[(e["account"], e["amount"]) for e in x["entries"]] for x in trueups],
                         [[("credit", "-0.000001"), ("usage", "0.000001")]])
        self.assertEqual(self.m.post("/v1/tenants/%s/invoices/%s/finalize" % (t, month))[0], 409)
        self.assertEqual(len([x for x in self.ledger(t) if x["kind"] == "trueup"]), 1)
        # Reconcile, beside the running server: the true-up took the line to its rounded price.
        check = subprocess.run([METERD_BIN, "reconcile", "--tenant", t, "--data-dir", self.dir, "--config", self.config],
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertIn("1 grant(s), 1 line(s); 0 problem(s)", check.stdout)

    # Case 16: a $20.00 minimum with $8.00 of usage burnt from a $30.00 lot: the lot also pays the
    # 12.00 minimum adjustment (booked at finalization, once; 10.00 left, nothing due); a lot
    # scoped to the meter pays only the usage (12.00 due).
    def test_minimum_commitment_with_credit(self):
        first = now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        last_month = first - datetime.timedelta(days=1)
        month, day = last_month.strftime("%Y-%m"), last_month.replace(hour=10)
        t = self.tenant("cr_minimum", "minimum")
        self.grant(t, "g", amount="30.00", name="M", effective_at=iso(last_month.replace(day=1)))
        self.assertEqual(self.send(t, "api_call", [800], "m", at=day), ["accepted"])
        inv = self.invoice(t, month)
        c = inv["credits"]
        self.assertEqual((inv["subtotal"], inv["minimum_adjustment"], inv["total"], c["total"], inv["amount_due"]),
                         ("8", "12", "20", "20", "0"))
        self.assertEqual([(a["event_type"], a["amount"]) for a in c["applied"]],
                         [("api_call", "8"), ("minimum_adjustment", "12")])
        self.assertEqual(self.available(t), Decimal("22"))  # the minimum is charged at finalization
        status, _, final = self.m.post("/v1/tenants/%s/invoices/%s/finalize" % (t, month))
        self.assertEqual(status, 201, final)
        self.assertEqual(final["credits"], c)
        self.assertEqual(self.invoice(t, month), final)
        self.assertEqual(self.available(t), Decimal("10"))
        trueups = [x for x in self.ledger(t) if x["kind"] == "trueup"]
        self.assertEqual([[(e["account"], e.get("event_type"), e["amount"]) for e in x["entries"]] for x in trueups],
                         [[("credit", "minimum_adjustment", "-12"), ("usage", "minimum_adjustment", "12")]])
        check = subprocess.run([METERD_BIN, "reconcile", "--tenant", t, "--data-dir", self.dir, "--config", self.config],
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

        scoped = self.tenant("cr_minimum_scoped", "minimum")
        self.grant(scoped, "g", amount="30.00", name="S", scope=["api_call"],
                   effective_at=iso(last_month.replace(day=1)))
        self.assertEqual(self.send(scoped, "api_call", [800], "s", at=day), ["accepted"])
        inv = self.invoice(scoped, month)
        self.assertEqual((inv["total"], inv["credits"]["total"], inv["amount_due"]), ("20", "8", "12"))

    # Case 9, finalized: once last month's invoice is final, a late event dated in it burns
    # nothing (even from a lot that was usable then): the lot and the invoice keep what they had
    # and reconcile reports the event as late usage.
    def test_late_event_in_a_finalized_month_burns_nothing(self):
        first = now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        last_month = first - datetime.timedelta(days=1)
        month, day = last_month.strftime("%Y-%m"), last_month.replace(hour=10)
        t = self.tenant("cr_late_final", "api")
        self.grant(t, "g", amount="10.00", name="L", effective_at=iso(last_month.replace(day=1)),
                   expires_at=iso(first + datetime.timedelta(days=40)))
        self.assertEqual(self.send(t, "api_call", [320], "before", at=day), ["accepted"])
        status, _, final = self.m.post("/v1/tenants/%s/invoices/%s/finalize" % (t, month))
        self.assertEqual((status, final["credits"]["total"]), (201, "3.2"))
        txns = len(self.ledger(t))
        self.assertEqual(self.send(t, "api_call", [100], "late", at=day), ["accepted"])
        self.assertEqual(self.available(t), Decimal("6.8"))
        self.assertEqual(len(self.ledger(t)), txns)
        self.assertEqual(self.invoice(t, month), final)
        # This month's events still burn.
        self.assertEqual(self.send(t, "api_call", [100], "now"), ["accepted"])
        self.assertEqual(self.available(t), Decimal("5.8"))
        check = subprocess.run([METERD_BIN, "reconcile", "--tenant", t, "--data-dir", self.dir, "--config", self.config],
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertIn("1 line(s) of late usage", check.stdout)

    # A cancel that reaches a finalized month paid by credit gives the credit back: the credit
    # note restores the 2.00 its line no longer needs to the lot (a restore transaction) and
    # changes nothing in money; the same cancel again issues nothing.
    def test_cancel_in_a_finalized_month_restores_credit(self):
        first = now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        last_month = first - datetime.timedelta(days=1)
        month, day = last_month.strftime("%Y-%m"), last_month.replace(hour=10)
        t = self.tenant("cr_restore", "api")
        lot = self.grant(t, "g", amount="10.00", name="R", effective_at=iso(last_month.replace(day=1)),
                         expires_at=iso(first + datetime.timedelta(days=40)))
        self.assertEqual(self.send(t, "api_call", [300], "keep", at=day), ["accepted"])
        self.assertEqual(self.send(t, "api_call", [200], "gone", at=day), ["accepted"])
        status, _, final = self.m.post("/v1/tenants/%s/invoices/%s/finalize" % (t, month))
        self.assertEqual((status, final["credits"]["total"], final["amount_due"]), (201, "5", "0"))
        self.assertEqual(self.available(t), Decimal("5"))
        cancel = {"tenant_id": t, "ids": ["gone-0"], "correction_id": "restore-1"}
        status, _, body = self.m.post("/v1/events/cancel", cancel)
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["adjustments"]), 1, body)
        note = self.m.get("/v1/tenants/%s/invoices/%s/adjustments" % (t, month))[2]["adjustments"][0]
        self.assertEqual((note["kind"], note["total_change"], note["credit_restored"], note["amount_due_change"]),
                         ("credit_note", "-2", "2", "0"))
        self.assertEqual(note["credits_restored"],
                         [{"grant_id": lot["grant_id"], "event_type": "api_call", "amount": "2"}])
        self.assertEqual(self.available(t), Decimal("7"))
        restores = [x for x in self.ledger(t) if x["kind"] == "restore"]
        self.assertEqual([[(e["account"], e["amount"]) for e in x["entries"]] for x in restores],
                         [[("credit", "2"), ("usage", "-2")]])
        self.assert_ledger_balances(t)
        status, _, again = self.m.post("/v1/events/cancel", cancel)
        self.assertEqual((status, again.get("cancelled"), again.get("adjustments")), (200, 0, []), again)
        self.assertEqual(self.available(t), Decimal("7"))
        self.assertEqual(self.invoice(t, month), final)
        check = subprocess.run([METERD_BIN, "reconcile", "--tenant", t, "--data-dir", self.dir, "--config", self.config],
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    # meterd credits: grant (retried: once), balance, void and ledger against the running server.
    def test_cli(self):
        t = self.tenant("cr_cli", "api")
        url = "http://127.0.0.1:%d" % self.m.port

        def cli(*args):
            return subprocess.run([METERD_BIN, "credits"] + list(args) + ["--tenant", t, "--url", url],
                                  capture_output=True, text=True, timeout=60, cwd=self.dir)

        for _ in range(2):
            out = cli("grant", "--amount", "2.50", "--name", "cli lot", "--category", "paid", "--idempotency-key", "c1")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("2.5 of 2.5 remaining (active)", out.stdout)
        self.send(t, "api_call", [50], "cli")
        out = cli("balance")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("tenant cr_cli: 2 USD usable now (hard enforcement)", out.stdout)
        grant = json.loads(cli("balance", "--json").stdout)["grants"][0]["grant_id"]
        out = cli("void", "--grant", grant)
        self.assertIn("0 of 2.5 remaining (voided)", out.stdout)
        out = cli("ledger")
        self.assertEqual([line.split()[1] for line in out.stdout.splitlines()[1:]],
                         ["grant", "grant", "burn", "burn", "void", "void"])
        out = cli("grant", "--amount", "-1")
        self.assertEqual(out.returncode, 1)
        self.assertIn("400 Bad Request: amount must not be negative (amount)", out.stderr)

    def test_bad_requests(self):
        t = self.tenant("cr_bad", "api")
        for body in ({"amount": "-1"}, {"amount": "1", "category": "gift"}, {"amount": "1", "priority": 101},
                     {"amount": "1", "expires_after": "P1X"}, {"amount": "1", "expires_on": "2026-02-30"},
                     {"amount": "1", "expires_at": "2020-01-01T00:00:00Z"}, {"amount": "1", "colour": "red"},
                     {"amount": "1", "expires_at": "2030-01-01T00:00:00Z", "expires_after": "P1M"}):
            status, _, problem = self.m.request("POST", "/v1/tenants/%s/credits/grants" % t, body,
                                                headers={"Idempotency-Key": json.dumps(body)})
            self.assertEqual(status, 400, (body, problem))
        self.assertEqual(self.m.request("PUT", "/v1/tenants/%s/credits/settings" % t, {"enforcement": "x"})[0], 400)
        self.assertEqual(self.m.get("/v1/tenants/%s/credits/check" % t)[0], 400)
        self.assertEqual(self.m.get("/v1/tenants/%s/credits/balance?as_of=yesterday" % t)[0], 400)


class CreditRestartTest(unittest.TestCase):
    """The writer's live state comes back from the store: after a clean stop and after kill -9,
    every acknowledged event is stored once and burnt once, and nothing refused is stored."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="meterd-credits-restart-")
        self.config = os.path.join(self.dir, "meterd.toml")
        with open(self.config, "w") as f:
            f.write(CONFIG)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self):
        return Meterd(data_dir=self.dir, extra_args=["--config", self.config]).start()

    def test_kill9_during_burns(self):
        m = self.start()
        m.request("PUT", "/v1/tenants/acme/plan", {"plan": "api"})
        m.request("PUT", "/v1/tenants/acme/credits/settings", {"enforcement": "hard"})
        m.request("POST", "/v1/tenants/acme/credits/grants", {"amount": "3.00"}, headers={"Idempotency-Key": "k"})
        acked, stop = [], threading.Event()

        def client(c):
            conn = m.connection()
            i = 0
            while not stop.is_set() and i < 200:
                eid = "k%d-%d" % (c, i)
                try:
                    status, _, _ = m.post("/v1/events", [{"id": eid, "tenant_id": "acme", "event_type": "api_call",
                                                          "quantity": 1, "timestamp": iso(now())}], conn=conn)
                except Exception:
                    conn.close()
                    return
                if status == 200:
                    acked.append(eid)
                i += 1
            conn.close()

        threads = [threading.Thread(target=client, args=(c,)) for c in range(8)]
        for th in threads:
            th.start()
        while len(acked) < 120:
            pass
        m.kill9()
        stop.set()
        for th in threads:
            th.join()
        m = self.start()
        try:
            stored = m.stored_ids("acme")
            self.assertTrue(set(acked) <= set(stored))
            self.assertTrue(all(n == 1 for n in stored.values()))
            available = Decimal(m.get("/v1/tenants/acme/credits/balance")[2]["available"])
            self.assertEqual(available, Decimal("3") - Decimal("0.01") * len(stored))
            # It goes on from there, exactly, to zero.
            left = int(available / Decimal("0.01"))
            events = [{"id": "after-%d" % i, "tenant_id": "acme", "event_type": "api_call", "quantity": 1,
                       "timestamp": iso(now())} for i in range(left + 5)]
            results = m.post("/v1/events", events)[2]["results"]
            self.assertEqual([r["status"] for r in results], ["accepted"] * left + ["rejected"] * 5)
            m.stop()
            m = self.start()
            self.assertEqual(m.get("/v1/tenants/acme/credits/balance")[2]["available"], "0")
            self.assertEqual(len(m.stored_ids("acme")), 300)
        finally:
            m.stop()
        # The ledger balances, agrees with its projections and never burnt past the raw events.
        check = subprocess.run([METERD_BIN, "reconcile", "--data-dir", self.dir, "--config", self.config],
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertIn("tenant(s) checked, 1 grant(s), 1 line(s); 0 problem(s)", check.stdout)
        # A projection edited behind meterd's back is found.
        with sqlite3.connect(os.path.join(self.dir, "meterd.db")) as db:
            db.execute("UPDATE credit_lines SET amount = '2.5'")
        check = subprocess.run([METERD_BIN, "reconcile", "--data-dir", self.dir, "--config", self.config],
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(check.returncode, 1, check.stdout)
        self.assertIn("against projection 2.5", check.stdout)


if __name__ == "__main__":
    main()
