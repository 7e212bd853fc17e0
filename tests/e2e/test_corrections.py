"""End-to-end: corrections (docs/corrections.md) through the real binary: cancelling stored
events by id, what every reading of usage then says, idempotency, refusals, hard quotas freed,
finalized months untouched, the audit trail, and all of it after a restart."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import METERD_BIN, Meterd, main
from test_auth import bearer, keys

PLANS = """
[meters.storage_gb]
aggregation = "max"

[meters.active_users]
aggregation = "unique_count"
field = "user_id"
"""


def ev(i, kind, quantity, day="01", **metadata):
    return {"id": i, "tenant_id": "acme", "event_type": kind, "quantity": quantity,
            "timestamp": "2026-12-%sT10:00:00Z" % day, "metadata": metadata}


class CorrectionCase(unittest.TestCase):
    """A meterd with the plans above, and readings of tenant acme's December (no tests here)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="meterd-corrections-")
        self.config = os.path.join(self.dir, "meterd.toml")
        with open(self.config, "w") as f:
            f.write(PLANS)
        self.m = self.start()

    def tearDown(self):
        self.m.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self):
        return Meterd(data_dir=self.dir, extra_args=["--config", self.config]).start()

    def totals(self):
        usage = self.m.get("/v1/usage?tenant_id=acme&from=2026-12-01&to=2027-01-01")[2]
        return {t["event_type"]: (t["quantity"], t["events"]) for t in usage["totals"]}

    def lines(self, month="2026-12"):
        invoice = self.m.get("/v1/tenants/acme/invoices/" + month)[2]
        return {line["event_type"]: line["quantity"] for line in invoice["line_items"]}

    def cancel(self, ids, correction_id=None, **extra):
        body = dict(extra, ids=ids, tenant_id="acme", reason="double-reported by a client bug")
        if correction_id:
            body["correction_id"] = correction_id
        return self.m.post("/v1/events/cancel", body)


class CorrectionsTest(CorrectionCase):
    # Verifies a cancel takes the events out of sums, counts, max, unique counts and invoices, once,
    # and that a retry of the same correction changes nothing.
    def test_cancel_changes_every_reading_once(self):
        m = self.m
        status, _, body = m.post("/v1/events", [
            ev("q1", "query", 100), ev("q2", "query", 50), ev("t1", "input_tokens", 2000),
            ev("s1", "storage_gb", 9), ev("s2", "storage_gb", 4),
            ev("u1", "active_users", 1, user_id="alice"), ev("u2", "active_users", 1, user_id="bob")])
        self.assertEqual(body["accepted"], 7, body)
        self.assertEqual(self.totals()["query"], ("150", 2))
        self.assertEqual((self.lines()["storage_gb"], self.lines()["active_users"]), ("9", "2"))

        status, _, body = self.cancel(["q2", "s1", "u2"], "fix-1")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["cancelled"], 3)
        self.assertEqual({r["id"]: (r["status"], r["quantity"]) for r in body["results"]},
                         {"q2": ("cancelled", "50"), "s1": ("cancelled", "9"), "u2": ("cancelled", "1")})
        self.assertEqual(self.totals()["query"], ("100", 1))
        self.assertEqual(self.totals()["input_tokens"], ("2000", 1))
        lines = self.lines()
        self.assertEqual((lines["query"], lines["storage_gb"], lines["active_users"]), ("100", "4", "1"))
        raw = subprocess.run([METERD_BIN, "invoice", "--data-dir", self.dir, "--config", self.config, "--tenant",
                              "acme", "--month", "2026-12", "--from-raw"], capture_output=True, text=True, timeout=60)
        self.assertIn('"quantity":"100"', raw.stdout.replace(" ", ""))

        again = self.cancel(["q2", "s1", "u2"], "fix-1")
        self.assertEqual((again[0], again[2]["cancelled"]), (200, 0), again)
        self.assertEqual({r["status"] for r in again[2]["results"]}, {"duplicate"})
        other = self.cancel(["q2"], "fix-2")
        self.assertEqual(other[0], 409, other)
        self.assertIn("already cancelled by correction fix-1", other[2]["detail"])
        self.assertEqual(self.totals()["query"], ("100", 1))

        trail = m.get("/v1/tenants/acme/corrections")[2]["corrections"]
        self.assertEqual(sorted(c["cancels"] for c in trail), ["q2", "s1", "u2"])
        self.assertEqual({(c["correction"]["correction_id"], c["correction"]["reason"], c["correction"]["kind"])
                          for c in trail}, {("fix-1", "double-reported by a client bug", "cancel")})

        # After a restart: the same answers, and the cancellation is still known (dedupe index,
        # counters and the retraction table are rebuilt from the log).
        m.stop()
        self.m = m = self.start()
        self.assertEqual(self.totals()["query"], ("100", 1))
        self.assertEqual(self.cancel(["q2"], "fix-1")[2]["results"][0]["status"], "duplicate")
        self.assertEqual(self.cancel(["q2"], "fix-3")[0], 409)
        m.stop()
        rec = subprocess.run([METERD_BIN, "reconcile", "--data-dir", self.dir, "--month", "2026-12"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(rec.returncode, 0, rec.stdout + rec.stderr)
        self.assertIn("0 with drift", rec.stdout)
        listed = subprocess.run([METERD_BIN, "corrections", "--data-dir", self.dir, "--tenant", "acme"],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertIn("3 cancelled event(s) of tenant acme", listed.stdout)
        self.assertIn('"correction_id":"fix-1"', listed.stdout)
        bad = subprocess.run([METERD_BIN, "corrections", "--data-dir", self.dir, "--tenant", "a b"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(bad.returncode, 2, bad.stdout)
        self.m = self.start()

    # Verifies what is refused, with nothing cancelled: unknown ids (all or none), malformed
    # bodies, and events of a finalized month, whose invoice keeps its bytes.
    def test_refusals_cancel_nothing(self):
        m = self.m
        m.post("/v1/events", [ev("q1", "query", 100), dict(ev("n1", "query", 7), timestamp="2026-11-20T00:00:00Z")])
        status, _, body = self.cancel(["q1", "nope"])
        self.assertEqual((status, body["field"]), (404, "ids"), body)
        self.assertIn("nope", body["detail"])
        self.assertEqual(self.totals()["query"], ("100", 1))
        for bad in ({"ids": []}, {"ids": "q1"}, {"ids": ["q 1"]}, {"ids": ["q1"], "colour": 1},
                    {"ids": ["q1"], "correction_id": "a b"}, {"ids": ["x"] * 1001}):
            status, _, body = m.post("/v1/events/cancel", dict(bad, tenant_id="acme"))
            self.assertEqual(status, 400, (bad, body))
        self.assertEqual(m.post("/v1/events/cancel", {"ids": ["q1"]})[0], 400)  # admin: tenant_id required

        finalized = m.post("/v1/tenants/acme/invoices/2026-11/finalize")[2]
        status, _, body = self.cancel(["n1"])
        self.assertEqual(status, 409, body)
        self.assertIn("finalized", body["detail"])
        self.assertEqual(m.get("/v1/tenants/acme/invoices/2026-11")[2], finalized)
        self.assertEqual(m.get("/v1/tenants/acme/corrections")[2]["corrections"], [])
        for bad in ("0", "5x", "10001"):  # the list routes' shared ?limit= (alerts' took "5x" as 5)
            for path in ("/v1/tenants/acme/corrections", "/v1/alerts?tenant_id=acme&x=1"):
                status, _, body = m.get(path + ("&" if "?" in path else "?") + "limit=" + bad)
                self.assertEqual((status, body["field"]), (400, "limit"), (path, bad, body))

    # Verifies the per-event form: the path names the event, the body may be empty for a tenant.
    def test_cancel_one_by_path(self):
        m = self.m
        m.post("/v1/events", [ev("p1", "query", 3), ev("p2", "query", 4)])
        status, _, body = m.post("/v1/events/p1/cancel", {"tenant_id": "acme", "correction_id": "one"})
        self.assertEqual((status, body["cancelled"], body["results"][0]["id"]), (200, 1, "p1"), body)
        self.assertEqual(self.totals()["query"], ("4", 1))
        self.assertEqual(m.post("/v1/events/p1/cancel", {"tenant_id": "acme", "correction_id": "one"})[2]["cancelled"], 0)
        self.assertEqual(m.post("/v1/events/nope/cancel", {"tenant_id": "acme"})[0], 404)
        self.assertEqual(m.post("/v1/events/p2/cancel", {"tenant_id": "acme", "ids": ["p2"]})[0], 400)
        self.assertEqual(m.post("/v1/events/p2/cancel")[0], 400)  # an admin names the tenant

    # Verifies a cancel frees a hard quota at once.
    def test_cancel_frees_a_hard_quota(self):
        m = self.m
        m.request("PUT", "/v1/tenants/acme/quotas", body={"queries_per_day": 2, "enforcement": "hard"})
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for i in ("h1", "h2"):
            self.assertEqual(m.post("/track", dict(ev(i, "query", 1), timestamp=now))[0], 200)
        self.assertEqual(m.post("/track", dict(ev("h3", "query", 1), timestamp=now))[0], 429)
        self.assertEqual(self.cancel(["h1"])[0], 200)
        self.assertEqual(m.post("/track", dict(ev("h3", "query", 1), timestamp=now))[0], 200)
        self.assertEqual(m.post("/track", dict(ev("h4", "query", 1), timestamp=now))[0], 429)


class CorrectionScopeTest(unittest.TestCase):
    # Verifies a tenant key cancels only its own tenant's events: another tenant's ids are not
    # found, naming another tenant is forbidden, and nothing changes for either.
    def test_tenant_keys(self):
        d = tempfile.mkdtemp(prefix="meterd-corrections-keys-")
        _, admin, _ = keys(d, "create", "--admin")
        _, acme, _ = keys(d, "create", "--tenant", "acme")
        _, globex, _ = keys(d, "create", "--tenant", "globex")
        m = Meterd(data_dir=d).start()
        try:
            self.assertEqual(m.post("/v1/events", [ev("a1", "query", 5)], headers=bearer(acme))[0], 200)
            status, _, body = m.post("/v1/events/cancel", {"ids": ["a1"]}, headers=bearer(globex))
            self.assertEqual(status, 404, body)
            status, _, body = m.post("/v1/events/cancel", {"ids": ["a1"], "tenant_id": "acme"}, headers=bearer(globex))
            self.assertEqual(status, 403, body)
            self.assertEqual(m.get("/v1/tenants/acme/corrections", headers=bearer(globex))[0], 404)
            status, _, body = m.post("/v1/events/cancel", {"ids": ["a1"]}, headers=bearer(acme))
            self.assertEqual((status, body["cancelled"]), (200, 1), body)
            m.post("/v1/events", [ev("a2", "query", 5)], headers=bearer(acme))
            self.assertEqual(m.post("/v1/events/a2/cancel", headers=bearer(globex))[0], 404)
            status, _, body = m.post("/v1/events/a2/cancel", headers=bearer(acme))  # no body
            self.assertEqual((status, body["cancelled"]), (200, 1), body)
            trail = m.get("/v1/tenants/acme/corrections", headers=bearer(admin))[2]["corrections"]
            self.assertNotIn(trail[0]["correction"]["by"], ("", "anonymous"), trail)
        finally:
            m.stop()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
