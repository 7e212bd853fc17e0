"""End-to-end: corrections that reach a finalized month (docs/corrections.md) leave its invoice
byte for byte and issue credit and debit notes instead: numbered, JSON and CSV, listed by the
invoices API and by billing-run, each starting where the last ended; reconcile counts the
corrected events and reports no late usage for them."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import METERD_BIN, Meterd, main

CONFIG = """
[corrections]
window_days = 60

[plans.pro]
currency = "EUR"

[plans.pro.meters.query]
unit_price = 0.01
"""


def ev(i, quantity, day="20"):
    return {"id": i, "tenant_id": "acme", "event_type": "query", "quantity": quantity,
            "timestamp": "2026-11-%sT10:00:00Z" % day}


class AdjustmentsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="meterd-adjustments-")
        self.config = os.path.join(self.dir, "meterd.toml")
        with open(self.config, "w") as f:
            f.write(CONFIG)
        self.m = Meterd(data_dir=self.dir, extra_args=["--config", self.config]).start()

    def tearDown(self):
        self.m.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def cli(self, *args):
        return subprocess.run([METERD_BIN] + list(args) + ["--data-dir", self.dir, "--config", self.config],
                              capture_output=True, text=True, timeout=60)

    # Verifies a cancel, an amend and a replace in a finalized month each issue the next note,
    # the invoice never changes, and a retry issues nothing.
    def test_finalized_month_gets_notes(self):
        m = self.m
        self.assertEqual(m.request("PUT", "/v1/tenants/acme/plan", {"plan": "pro"})[0], 200)
        m.post("/v1/events", [ev("q1", 100), ev("q2", 50), ev("q3", 7, day="21")])
        status, _, invoice = m.post("/v1/tenants/acme/invoices/2026-11/finalize")
        self.assertEqual((status, invoice["total"]), (201, "1.57"), invoice)
        csv = m.get("/v1/tenants/acme/invoices/2026-11?format=csv")[2]

        status, _, body = m.post("/v1/events/cancel", {"tenant_id": "acme", "ids": ["q2"], "correction_id": "c1"})
        self.assertEqual((status, body["adjustments"]), (200, ["INV-202611-acme-CN1"]), body)
        again = m.post("/v1/events/cancel", {"tenant_id": "acme", "ids": ["q2"], "correction_id": "c1"})[2]
        self.assertEqual((again["cancelled"], again["adjustments"]), (0, []), again)
        status, _, body = m.post("/v1/events/amend", {"tenant_id": "acme", "id": "q1", "set": {"quantity": 300}})
        self.assertEqual((status, body["adjustments"]), (200, ["INV-202611-acme-DN2"]), body)
        status, _, body = m.post("/v1/tenants/acme/replace", {
            "event_type": "query", "from": "2026-11-21T00:00:00Z", "to": "2026-11-22T00:00:00Z",
            "events": [{"quantity": 3, "timestamp": "2026-11-21T12:00:00Z"}]})
        self.assertEqual((status, body["adjustments"]), (200, ["INV-202611-acme-CN3"]), body)

        self.assertEqual(m.get("/v1/tenants/acme/invoices/2026-11")[2], invoice)
        self.assertEqual(m.get("/v1/tenants/acme/invoices/2026-11?format=csv")[2], csv)
        notes = m.get("/v1/tenants/acme/invoices/2026-11/adjustments")[2]["adjustments"]
        self.assertEqual([(n["number"], n["kind"], n["sequence"], n["invoice_number"]) for n in notes],
                         [("INV-202611-acme-CN1", "credit_note", 1, "INV-202611-acme"),
                          ("INV-202611-acme-DN2", "debit_note", 2, "INV-202611-acme"),
                          ("INV-202611-acme-CN3", "credit_note", 3, "INV-202611-acme")])
        # Each starts where the one before ended.
        self.assertEqual([(n["total_before"], n["total_after"], n["total_change"]) for n in notes],
                         [("1.57", "1.07", "-0.5"), ("1.07", "3.07", "2"), ("3.07", "3.03", "-0.04")])
        self.assertEqual([(l["quantity_before"], l["quantity_after"], l["quantity_change"], l["amount_change"])
                          for n in notes for l in n["line_items"]],
                         [("157", "107", "-50", "-0.5"), ("107", "307", "200", "2"), ("307", "303", "-4", "-0.04")])
        status, headers, text = m.get("/v1/tenants/acme/invoices/2026-11/adjustments/1?format=csv")
        self.assertEqual(status, 200)
        self.assertIn("INV-202611-acme-CN1.csv", headers.get("Content-Disposition", headers.get("content-disposition")))
        self.assertEqual(text.splitlines()[1].split(",")[:8],
                         ["INV-202611-acme-CN1", "credit_note", "INV-202611-acme", "acme", "2026-11", "EUR", "query", ""])
        self.assertEqual(m.get("/v1/tenants/acme/invoices/2026-11/adjustments/4")[0], 404)
        self.assertEqual(m.get("/v1/tenants/acme/invoices/2026-10/adjustments")[2]["adjustments"], [])

        m.stop()
        out = os.path.join(self.dir, "run")
        run = self.cli("billing-run", "--month", "2026-11", "--out", out)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("3 adjustment note(s)", run.stdout)
        with open(os.path.join(out, "adjustments.csv")) as f:
            rows = f.read().splitlines()
        self.assertEqual(len(rows), 1 + 2 * 3, rows)  # the header, then a line and a total per note
        self.assertTrue(os.path.exists(os.path.join(out, "INV-202611-acme-DN2.json")))
        rec = self.cli("reconcile", "--month", "2026-11")
        self.assertEqual(rec.returncode, 0, rec.stdout + rec.stderr)
        self.assertIn("0 with drift; 3 corrected event(s)", rec.stdout)
        self.assertNotIn("late usage", rec.stdout)  # the notes billed the changes
        self.m = Meterd(data_dir=self.dir, extra_args=["--config", self.config]).start()

    # Verifies a backfill stores events older than the late window, all or none, once (ids
    # stored before are duplicates), names the finalized months it reaches and notes them.
    def test_backfill(self):
        m = self.m
        m.post("/v1/events", [ev("q1", 100)])
        m.post("/v1/tenants/acme/invoices/2026-11/finalize")
        old = {"id": "sep-1", "tenant_id": "acme", "event_type": "query", "quantity": 40,
               "timestamp": "2026-09-15T10:00:00Z"}
        status, _, body = m.post("/v1/events", [old])
        self.assertEqual(status, 400, body)  # too late for /v1/events
        status, _, body = m.post("/v1/events/backfill", [old, ev("q1", 100), ev("nov-late", 5)])
        self.assertEqual(status, 200, body)
        self.assertEqual((body["accepted"], body["duplicates"]), (2, 1), body)
        self.assertEqual([r["status"] for r in body["results"]], ["accepted", "duplicate", "accepted"])
        self.assertEqual(body["finalized_months"], [{"tenant_id": "acme", "month": "2026-11"}])
        self.assertEqual(body["adjustments"], ["INV-202611-acme-DN1"])
        sept = m.get("/v1/tenants/acme/invoices/2026-09")[2]
        self.assertEqual([(l["event_type"], l["quantity"]) for l in sept["line_items"]], [("query", "40")])
        again = m.post("/v1/events/backfill", [old, ev("nov-late", 5)])[2]
        self.assertEqual((again["accepted"], again["duplicates"], again["adjustments"]), (0, 2, []), again)
        # All or none: one bad event stores nothing.
        status, _, body = m.post("/v1/events/backfill", [dict(old, id="sep-2"), dict(old, id="sep-3", quantity=-1)])
        self.assertEqual((status, body["field"]), (400, "quantity"), body)
        self.assertIn("event 1", body["detail"])
        sept = m.get("/v1/tenants/acme/invoices/2026-09")[2]
        self.assertEqual([l["quantity"] for l in sept["line_items"]], ["40"])

    # Verifies a plan that carries notes puts them as lines on the next invoice not finalized:
    # December's draft shows November's credit, and its total includes it.
    def test_notes_carried_to_next_invoice(self):
        self.m.stop()
        with open(self.config, "w") as f:
            f.write(CONFIG.replace('currency = "EUR"', 'currency = "EUR"\nadjustments_on_next_invoice = true'))
        self.m = m = Meterd(data_dir=self.dir, extra_args=["--config", self.config]).start()
        plans = {p["name"]: p for p in m.get("/v1/plans")[2]["plans"]}
        self.assertTrue(plans["pro"]["adjustments_on_next_invoice"])
        m.request("PUT", "/v1/tenants/acme/plan", {"plan": "pro"})
        m.post("/v1/events", [ev("q1", 100), ev("q2", 50), {"id": "d1", "tenant_id": "acme", "event_type": "query",
                                                           "quantity": 300, "timestamp": "2026-12-01T10:00:00Z"}])
        m.post("/v1/tenants/acme/invoices/2026-11/finalize")
        december = m.get("/v1/tenants/acme/invoices/2026-12")[2]
        self.assertNotIn("adjustments", december)  # no note yet: the same bytes as before
        self.assertEqual(december["total"], "3")
        body = m.post("/v1/events/cancel", {"tenant_id": "acme", "ids": ["q2"]})[2]
        self.assertEqual(body["adjustments"], ["INV-202611-acme-CN1"])
        note = m.get("/v1/tenants/acme/invoices/2026-11/adjustments/1")[2]
        self.assertEqual(note["carried_to"], "2026-12")
        december = m.get("/v1/tenants/acme/invoices/2026-12")[2]
        self.assertEqual(december["adjustments"], [{"number": "INV-202611-acme-CN1", "month": "2026-11", "amount": "-0.5"}])
        self.assertEqual((december["subtotal"], december["total"]), ("3", "2.5"))
        csv = m.get("/v1/tenants/acme/invoices/2026-12?format=csv")[2]
        self.assertIn(",,,adjustment INV-202611-acme-CN1 of 2026-11,,,,,,,,-0.5,draft,", csv)

    # Verifies that without a window a finalized month refuses corrections, naming the setting.
    def test_no_window_refuses(self):
        self.m.stop()
        with open(self.config, "w") as f:
            f.write(CONFIG.replace("window_days = 60", "window_days = 0"))
        self.m = m = Meterd(data_dir=self.dir, extra_args=["--config", self.config]).start()
        m.post("/v1/events", [ev("q1", 100)])
        m.post("/v1/tenants/acme/invoices/2026-11/finalize")
        status, _, body = m.post("/v1/events/cancel", {"tenant_id": "acme", "ids": ["q1"]})
        self.assertEqual(status, 409, body)
        self.assertIn("corrections.window_days", body["detail"])
        self.assertEqual(m.get("/v1/tenants/acme/invoices/2026-11/adjustments")[2]["adjustments"], [])


if __name__ == "__main__":
    main()
