"""End-to-end: plans from meterd.toml, invoices (JSON, CSV, finalized snapshots), tenant time
zones, the invoice and billing-run commands, through the real binary."""
import csv
import io
import json
import os
import subprocess
import tempfile
import time
import unittest

from harness import METERD_BIN, Meterd, main

PLANS = """
[billing]
default_plan = "default"

[meters.storage_gb]
aggregation = "max"
billing = "average_daily_max"

[meters.active_users]
aggregation = "unique_count"
field = "user_id"

[meters.output_tokens]
group_by = "model"

[plans.pro]
currency = "EUR"
minimum_commitment = 20

[plans.pro.meters.query]
model = "graduated"
tiers = [{ up_to = 1000, unit_price = 0.01 }, { up_to = 10000, unit_price = 0.008, flat_fee = 1.5 }, { unit_price = 0.005 }]

[plans.pro.meters.input_tokens]
model = "package"
package_size = 1000
unit_price = 0.02
free_allowance = 500
"""


def event(i, tenant, kind, quantity, ts):
    return {"id": "%s-%s-%d" % (tenant, kind, i), "tenant_id": tenant, "event_type": kind, "quantity": quantity,
            "timestamp": ts}


class BillingTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="meterd-billing-")
        with open(os.path.join(self.dir, "meterd.toml"), "w") as f:
            f.write(PLANS)
        self.m = Meterd(data_dir=self.dir, extra_args=["--config", os.path.join(self.dir, "meterd.toml")]).start()

    def tearDown(self):
        self.m.cleanup()

    def cli(self, *args):
        return subprocess.run([METERD_BIN, "--data-dir", self.dir, "--config", os.path.join(self.dir, "meterd.toml")]
                              + list(args), capture_output=True, text=True)

    # Verifies a graduated and a package meter, the minimum commitment, CSV, and a plan change.
    def test_invoice_on_a_plan(self):
        m = self.m
        events = [event(0, "acme", "query", 1500, "2026-11-03T10:00:00Z"),
                  event(1, "acme", "input_tokens", 2600, "2026-11-04T10:00:00Z")]
        self.assertEqual(m.post("/v1/events", events)[0], 200)
        status, _, plan = m.request("PUT", "/v1/tenants/acme/plan", {"plan": "pro"})
        self.assertEqual((status, plan["plan"]), (200, "pro"))
        status, _, bad = m.request("PUT", "/v1/tenants/acme/plan", {"plan": "platinum"})
        self.assertEqual(status, 400)
        self.assertIn("default, pro", bad["detail"])

        status, _, inv = m.get("/v1/tenants/acme/invoices/2026-11")
        self.assertEqual(status, 200, inv)
        self.assertEqual((inv["plan"], inv["currency"], inv["invoice_number"]), ("pro", "EUR", "INV-202611-acme"))
        lines = {l["event_type"]: l for l in inv["line_items"]}
        # query: 1000 * 0.01 + 500 * 0.008 + 1.5 flat = 15.50
        self.assertEqual(lines["query"]["amount"], "15.5")
        self.assertEqual([t["quantity"] for t in lines["query"]["tiers"]], ["1000", "500"])
        # input_tokens: 2600 - 500 free = 2100 -> 3 packages * 0.02 = 0.06
        self.assertEqual((lines["input_tokens"]["free"], lines["input_tokens"]["packages"],
                          lines["input_tokens"]["amount"]), ("500", "3", "0.06"))
        self.assertEqual((inv["subtotal"], inv["minimum_adjustment"], inv["total"]), ("15.56", "4.44", "20"))

        status, headers, text = m.get("/v1/tenants/acme/invoices/2026-11?format=csv")
        self.assertEqual((status, headers["content-type"]), (200, "text/csv"))
        rows = list(csv.DictReader(io.StringIO(text)))
        self.assertEqual(rows[-1]["description"], "total")
        self.assertEqual(rows[-1]["amount"], "20")
        self.assertEqual(m.get("/v1/tenants/acme/invoices/2026-11", headers={"Accept": "text/csv"})[2], text)

        # The Python service's endpoint answers with the same invoice.
        status, _, generated = m.post("/invoice/generate", {"tenant_id": "acme", "year": 2026, "month": 11})
        self.assertEqual(generated, inv)
        for bad_month in ("2026-13", "2026-1", "nope"):
            status, headers, problem = m.get("/v1/tenants/acme/invoices/" + bad_month)
            self.assertEqual((status, problem["field"]), (400, "month"), bad_month)

    # Verifies a finalized invoice is returned byte for byte, late usage does not change it, and
    # recomputing from raw events shows the late usage.
    def test_finalize(self):
        m = self.m
        m.post("/v1/events", [event(0, "acme", "query", 100, "2026-11-02T00:00:00Z")])
        status, _, before = m.get("/v1/tenants/acme/invoices/2026-11")
        conn = m.connection()
        conn.request("POST", "/v1/tenants/acme/invoices/2026-11/finalize")
        resp = conn.getresponse()
        snapshot = resp.read().decode()
        self.assertEqual(resp.status, 201)
        finalized = json.loads(snapshot)
        self.assertEqual((before["status"], before["finalized_at"]), ("draft", None))
        self.assertEqual(finalized.pop("status"), "finalized")
        self.assertRegex(finalized.pop("finalized_at"), r"^\d{4}-\d\d-\d\dT")
        del before["status"], before["finalized_at"]
        self.assertEqual(finalized, before)
        self.assertEqual(m.post("/v1/tenants/acme/invoices/2026-11/finalize")[0], 409)

        m.post("/v1/events", [event(1, "acme", "query", 50, "2026-11-05T00:00:00Z")])  # late usage
        conn.request("GET", "/v1/tenants/acme/invoices/2026-11")
        self.assertEqual(conn.getresponse().read().decode(), snapshot)
        listed = m.get("/v1/tenants?month=2026-11")[2]["tenants"]
        self.assertEqual([(t["tenant_id"], t["status"], t["total"]) for t in listed],
                         [("acme", "finalized", finalized["total"])])
        conn.close()
        out = self.cli("invoice", "--tenant", "acme", "--month", "2026-11")
        self.assertEqual(out.stdout.strip(), snapshot)
        raw = json.loads(self.cli("invoice", "--tenant", "acme", "--month", "2026-11", "--from-raw").stdout)
        self.assertEqual(raw["line_items"][0]["quantity"], "150")
        self.assertEqual(raw["source"], "raw_events")
        rec = self.cli("reconcile", "--month", "2026-11")
        self.assertEqual(rec.returncode, 0, rec.stdout + rec.stderr)
        self.assertIn("late usage", rec.stdout)
        late = [l.split() for l in rec.stdout.splitlines() if l.startswith("2026-11") and "acme" in l][-1]
        self.assertEqual(late[-3:], ["100", "150", "50"])

    # Verifies the tenant's time zone decides its month, also at a half-hour offset, and that
    # rollups and raw events give the same invoice there.
    def test_month_in_tenant_zone(self):
        m = self.m
        self.assertEqual(m.request("PUT", "/v1/tenants/india/quotas", {"time_zone": "Asia/Kolkata"})[0], 200)
        m.post("/v1/events", [
            event(0, "india", "query", 1, "2026-10-31T18:29:59.999Z"),  # 23:59:59.999 IST, 31 Oct
            event(1, "india", "query", 10, "2026-10-31T18:30:00Z"),     # 00:00 IST, 1 Nov
            event(2, "india", "query", 100, "2026-10-31T18:45:00Z"),
        ])
        inv = m.get("/v1/tenants/india/invoices/2026-11")[2]
        self.assertEqual((inv["time_zone"], inv["period_start"], inv["period_end"]),
                         ("Asia/Kolkata", "2026-10-31T18:30:00.000Z", "2026-11-30T18:30:00.000Z"))
        self.assertEqual(inv["line_items"][0]["quantity"], "110")
        october = m.get("/v1/tenants/india/invoices/2026-10")[2]
        self.assertEqual(october["period_end"], "2026-10-31T18:30:00.000Z")
        self.assertEqual(october["line_items"][0]["quantity"], "1")
        for month, rollups in (("2026-11", inv), ("2026-10", october)):
            raw = json.loads(self.cli("invoice", "--tenant", "india", "--month", month, "--from-raw").stdout)
            self.assertEqual(raw["line_items"], rollups["line_items"])
            self.assertEqual(raw["total"], rollups["total"])

        # Usage in the tenant's days and months (what the dashboard draws) splits where the invoice does.
        def buckets(query):
            status, _, usage = m.get("/v1/usage?tenant_id=india&" + query)
            self.assertEqual(status, 200, usage)
            return usage, {b["start"]: b["quantity"] for b in usage["buckets"]}
        usage, days = buckets("window=day&from=2026-10-31&to=2026-11-02&time_zone=tenant")
        self.assertEqual((usage["time_zone"], usage["from"], usage["to"]),
                         ("Asia/Kolkata", "2026-10-30T18:30:00.000Z", "2026-11-01T18:30:00.000Z"))
        self.assertEqual(days, {"2026-10-30T18:30:00.000Z": "1", "2026-10-31T18:30:00.000Z": "110"})
        _, months = buckets("window=month&from=2026-10-01&to=2026-12-01&time_zone=Asia/Kolkata")
        self.assertEqual(months, {october["period_start"]: "1", inv["period_start"]: "110"})
        usage, utc_days = buckets("window=day&from=2026-10-31&to=2026-11-02")
        self.assertEqual((usage["time_zone"], utc_days), ("UTC", {"2026-10-31T00:00:00.000Z": "111"}))
        status, _, problem = m.get("/v1/usage?tenant_id=india&time_zone=Mars/Olympus")
        self.assertEqual((status, problem["field"]), (400, "time_zone"))

    # Verifies meters other than sums: a gauge billed as GB-months, distinct users, and a meter
    # grouped by a metadata field into one line per value.
    def test_meters(self):
        m = self.m
        def ev(i, kind, quantity, ts, **meta):
            e = event(i, "store", kind, quantity, ts)
            e["metadata"] = meta
            return e
        status, _, body = m.post("/v1/events", [
            ev(0, "storage_gb", 30, "2026-11-01T08:00:00Z"), ev(1, "storage_gb", 20, "2026-11-01T09:00:00Z"),
            ev(2, "storage_gb", 90, "2026-11-11T00:00:00Z"),
            ev(3, "active_users", 1, "2026-11-02T00:00:00Z", user_id="a"),
            ev(4, "active_users", 1, "2026-11-03T00:00:00Z", user_id="b"),
            ev(5, "active_users", 1, "2026-11-04T00:00:00Z", user_id="a"),
            ev(6, "active_users", 1, "2026-11-05T00:00:00Z", user_id="c"),
            ev(7, "output_tokens", 1200, "2026-11-06T00:00:00Z", model="gpt-4"),
            ev(8, "output_tokens", 800, "2026-11-07T00:00:00Z", model="gpt-4"),
            ev(9, "output_tokens", 1000, "2026-11-08T00:00:00Z", model="small"),
        ])
        self.assertEqual(status, 200, body)
        inv = m.get("/v1/tenants/store/invoices/2026-11")[2]
        lines = {(l["event_type"], l.get("group", "")): l for l in inv["line_items"]}
        # Days 1-10 hold 30 GB, days 11-30 hold 90: (10 * 30 + 20 * 90) / 30 = 70 GB-months.
        self.assertEqual((lines[("storage_gb", "")]["quantity"], lines[("storage_gb", "")]["amount"]), ("70", "7"))
        self.assertEqual(lines[("active_users", "")]["quantity"], "3")
        self.assertFalse(lines[("active_users", "")]["priced"])
        self.assertEqual(lines[("output_tokens", "gpt-4")]["quantity"], "2000")
        self.assertEqual(lines[("output_tokens", "gpt-4")]["amount"], "0.03")
        self.assertEqual(lines[("output_tokens", "small")]["amount"], "0.02")  # 0.015, half up
        self.assertIn("(small)", lines[("output_tokens", "small")]["description"])
        self.assertEqual(inv["total"], "7.05")
        raw = json.loads(self.cli("invoice", "--tenant", "store", "--month", "2026-11", "--from-raw").stdout)
        self.assertEqual(raw["line_items"], inv["line_items"])
        # The same dimension in usage queries.
        usage = m.get("/v1/usage?tenant_id=store&from=2026-11-01&event_type=output_tokens&group_by=model")[2]
        self.assertEqual([(g["group"], g["quantity"], g["events"]) for g in usage["groups"]],
                         [("gpt-4", "2000", 2), ("small", "1000", 1)])
        status, _, problem = m.get("/v1/usage?tenant_id=store&group_by=a%27b")
        self.assertEqual((status, problem["field"]), (400, "group_by"))
        # Late usage in a finalized month is reported per group line.
        self.assertEqual(m.post("/v1/tenants/store/invoices/2026-11/finalize")[0], 201)
        m.post("/v1/events", [ev(10, "output_tokens", 100, "2026-11-09T00:00:00Z", model="small")])
        rec = self.cli("reconcile", "--month", "2026-11")
        late = [l.split() for l in rec.stdout.splitlines() if "output_tokens" in l and l.startswith("2026-11")
                and "store" in l and "(" in l]
        self.assertEqual([l[-5:] for l in late], [["output_tokens", "(small)", "1000", "1100", "100"]])

    # Verifies billing-run writes every tenant's invoice and a summary, and the CLI's errors.
    def test_billing_run(self):
        m = self.m
        m.post("/v1/events", [event(i, "t%d" % i, "query", 100 * (i + 1), "2026-11-10T00:00:00Z") for i in range(3)])
        # t0's month is finalized, then late usage arrives: the run writes and sums the snapshot.
        self.assertEqual(m.post("/v1/tenants/t0/invoices/2026-11/finalize")[0], 201)
        m.post("/v1/events", [event(9, "t0", "query", 5000, "2026-11-11T00:00:00Z")])
        out_dir = os.path.join(self.dir, "invoices")
        out = self.cli("billing-run", "--month", "2026-11", "--out", out_dir)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("3 invoices", out.stdout)
        self.assertIn("total 6 USD", out.stdout)  # (100 + 200 + 300) * 0.01
        with open(os.path.join(out_dir, "summary.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([(r["tenant_id"], r["total"]) for r in rows], [("t0", "1"), ("t1", "2"), ("t2", "3")])
        with open(os.path.join(out_dir, "INV-202611-t0.json")) as f:
            self.assertEqual(json.loads(f.read())["total"], "1")
        self.assertTrue(os.path.exists(os.path.join(out_dir, "INV-202611-t1.csv")))
        self.assertEqual(self.cli("billing-run", "--month", "2026/11").returncode, 2)
        bad = self.cli("invoice", "--tenant", "t0", "--month", "2026-11", "--format", "xml")
        self.assertNotEqual(bad.returncode, 0)


class PlanConfigTest(unittest.TestCase):
    # Verifies a broken plan stops meterd at start with the plan, meter and key named.
    def test_bad_plan_is_refused(self):
        d = tempfile.mkdtemp(prefix="meterd-billing-")
        for toml, message in (
                ('[plans.x.meters.query]\nmodel = "graduated"\ntiers = [{ up_to = 5, unit_price = 1 }]\n',
                 "plan x, meter query"),
                ('[meters.users]\naggregation = "unique_count"\n', "meter users: unique_count needs field"),
                ('[meters.gb]\nbilling = "average_daily_max"\n', "needs aggregation = \"max\""),
                ('[meters.gb]\naggregation = "median"\n', "meters.gb.aggregation")):
            with open(os.path.join(d, "meterd.toml"), "w") as f:
                f.write(toml)
            out = subprocess.run([METERD_BIN, "--data-dir", d, "--config", os.path.join(d, "meterd.toml"), "serve",
                                  "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=20)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn(message, out.stderr)



class OpenMonthTest(unittest.TestCase):
    # Verifies a month that has not ended in the tenant's zone cannot be finalized (409 saying
    # when it can), and that a finalized invoice's CSV says so on every row.
    def test_open_month_refused_and_csv_status(self):
        with Meterd() as m:
            self.assertEqual(m.request("PUT", "/v1/tenants/ny/quotas", {"time_zone": "America/New_York"})[0], 200)
            for month in ("2099-01", time.strftime("%Y-%m", time.gmtime())):
                status, _, body = m.post("/v1/tenants/ny/invoices/%s/finalize" % month)
                self.assertEqual(status, 409, body)
                self.assertIn("America/New_York", body["detail"])
                self.assertIn("can be finalized from", body["detail"])
            self.assertEqual(m.post("/v1/tenants/ny/invoices/2026-10/finalize")[0], 201)
            status, _, text = m.get("/v1/tenants/ny/invoices/2026-10?format=csv")
            rows = list(csv.DictReader(io.StringIO(text)))
            self.assertTrue(rows)
            self.assertTrue(all(r["status"] == "finalized" and r["finalized_at"] for r in rows), rows)


class StorageGaugeTest(unittest.TestCase):
    # Verifies storage_gb is a gauge for invoices by default, as for quotas: two readings of
    # 2.5 GB on the 1st are 2.5 GB kept all month (2.5 GB-months), never 5 GB.
    def test_two_readings_are_not_summed(self):
        with Meterd() as m:
            # The first of this month: in this month's quota period on any day of it.
            ts = time.strftime("%Y-%m-01T00:00:00Z", time.gmtime())
            for i in range(2):
                m.post("/v1/events", [{"id": "s%d" % i, "tenant_id": "st", "event_type": "storage_gb", "quantity": "2.5",
                                       "timestamp": ts}])
            report = m.post("/quota/check", {"tenant_id": "st"})[2]
            self.assertEqual(report["monthly"]["quotas"]["storage_gb"]["used"], "2.5")
            invoice = m.get("/v1/tenants/st/invoices/" + ts[:7])[2]
            line = [l for l in invoice["line_items"] if l["event_type"] == "storage_gb"][0]
            self.assertEqual(line["quantity"], "2.5")

if __name__ == "__main__":
    main()
