"""End-to-end: live quotas, hard and soft enforcement, tenant time zones, through the real binary."""
import json
import subprocess
import unittest

from harness import METERD_BIN, Meterd, main


class QuotaTest(unittest.TestCase):
    # Verifies hard mode: the event past the limit gets 429 with Retry-After and a problem naming
    # the limit; usage is known at once; the state survives a restart.
    def test_hard_limit(self):
        m = Meterd().start()
        try:
            status, _, body = m.request("PUT", "/v1/tenants/t_hard/quotas",
                                        body={"queries_per_day": 3, "enforcement": "hard", "time_zone": "Asia/Kolkata"})
            self.assertEqual(status, 200, body)
            self.assertEqual((body["enforcement"], body["time_zone"]), ("hard", "Asia/Kolkata"))
            for i in range(3):
                self.assertEqual(m.post("/track", {"tenant_id": "t_hard", "event_type": "query"})[0], 200)
            status, headers, body = m.post("/track", {"tenant_id": "t_hard", "event_type": "query"})
            self.assertEqual((status, body["field"]), (429, "queries_per_day"), body)
            self.assertGreater(int(headers["retry-after"]), 0)
            self.assertLessEqual(int(headers["retry-after"]), 86400)
            # A batch that would go over: the fitting events are refused too once the limit is reached.
            status, _, body = m.post("/v1/events", [{"tenant_id": "t_hard", "event_type": "query"}] * 2)
            self.assertEqual(status, 429, body)
            self.assertIn("would pass its queries_per_day limit of 3", body["detail"])  # never an empty detail
            self.assertEqual(body["field"], "queries_per_day")
            # Other meters are not limited.
            self.assertEqual(m.post("/track", {"tenant_id": "t_hard", "event_type": "input_tokens", "quantity": 5})[0], 200)
            # An event larger than the limit by itself says so.
            m.request("PUT", "/v1/tenants/t_hard/quotas", body={"tokens_per_day": 100})
            status, _, body = m.post("/track", {"tenant_id": "t_hard", "event_type": "input_tokens", "quantity": 500})
            self.assertEqual(status, 429, body)
            self.assertIn("quantity 500 alone exceeds", body["detail"])

            status, _, report = m.get("/v1/tenants/t_hard/quotas")
            q = report["quotas"]["queries"]
            self.assertEqual((q["used"], q["limit"], q["remaining"], q["exceeded"]), ("3", "3", "0", False))
            # Exactly at the limit: within quota (nothing over), at_limit (the next query is refused).
            self.assertEqual((report["within_quota"], report["at_limit"], q["at_limit"]), (True, True, True))
            self.assertTrue(report["period_start"].endswith("T18:30:00.000Z"))  # India's midnight in UTC
            m.stop()
            m2 = Meterd(data_dir=m.data_dir).start()
            try:
                status, _, report = m2.get("/v1/tenants/t_hard/quotas")
                self.assertEqual(report["quotas"]["queries"]["used"], "3")
                self.assertEqual(report["enforcement"], "hard")
                self.assertEqual(m2.post("/track", {"tenant_id": "t_hard", "event_type": "query"})[0], 429)
            finally:
                m2.cleanup()
        finally:
            m.cleanup()

    # Verifies soft mode accepts past the limit and reports the overage, day and month.
    def test_soft_limit_reports_overage(self):
        with Meterd() as m:
            m.post("/quota/set", {"tenant_id": "t_soft", "tokens_per_day": 100, "tokens_per_month": 150})
            status, _, body = m.post("/v1/events", [
                {"tenant_id": "t_soft", "event_type": "input_tokens", "quantity": 80},
                {"tenant_id": "t_soft", "event_type": "output_tokens", "quantity": "40.5"}])
            self.assertEqual(status, 200, body)
            status, _, report = m.post("/quota/check", {"tenant_id": "t_soft"})
            tokens = report["quotas"]["tokens"]
            self.assertEqual((tokens["used"], tokens["remaining"], tokens["exceeded"]), ("120.5", "0", True))
            self.assertEqual(report["monthly"]["quotas"]["tokens"]["remaining"], "29.5")
            self.assertEqual(report["status"], "exceeded")

    # Verifies a restart rebuilds every meter as it was: counted meters (from quarter-hour sums)
    # in a zone whose day starts on the half hour, and a gauge (its maximum, from its events).
    def test_counters_survive_restart(self):
        m = Meterd().start()
        try:
            m.post("/quota/set", {"tenant_id": "t_re", "storage_gb": 100, "time_zone": "Asia/Kolkata"})
            status, _, body = m.post("/v1/events", [
                {"tenant_id": "t_re", "event_type": "storage_gb", "quantity": 40},
                {"tenant_id": "t_re", "event_type": "storage_gb", "quantity": "12.5"},
                {"tenant_id": "t_re", "event_type": "input_tokens", "quantity": "7.25"},
                {"tenant_id": "t_re", "event_type": "output_tokens", "quantity": 3},
                {"tenant_id": "t_re", "event_type": "query"}])
            self.assertEqual(status, 200, body)

            def used(server):
                report = server.post("/quota/check", {"tenant_id": "t_re"})[2]
                return {name: (report["quotas"][name]["used"], report["monthly"]["quotas"][name]["used"])
                        for name in ("queries", "tokens", "storage_gb")}

            before = used(m)
            self.assertEqual(before, {"queries": ("1", "1"), "tokens": ("10.25", "10.25"),
                                      "storage_gb": ("40", "40")})
            m.stop()
            m2 = Meterd(data_dir=m.data_dir).start()
            try:
                self.assertEqual(used(m2), before)
            finally:
                m2.cleanup()
        finally:
            m.cleanup()

    # Verifies the CLI sets and shows a running server's quotas.
    def test_cli(self):
        with Meterd() as m:
            url = "http://127.0.0.1:%d" % m.port
            out = subprocess.run([METERD_BIN, "quota", "set", "--tenant", "t_cli", "--queries-per-day", "5",
                                  "--enforcement", "hard", "--time-zone", "Europe/Berlin", "--url", url, "--json"],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(json.loads(out.stdout)["queries_per_day"], "5")
            m.post("/track", {"tenant_id": "t_cli", "event_type": "query", "quantity": 5})
            out = subprocess.run([METERD_BIN, "quota", "show", "--tenant", "t_cli", "--url", url, "--json"],
                                 capture_output=True, text=True, timeout=30)
            shown = json.loads(out.stdout)
            self.assertEqual((shown["time_zone"], shown["quotas"]["queries"]["remaining"]), ("Europe/Berlin", "0"))
            # For people: a table, one row per meter and period.
            out = subprocess.run([METERD_BIN, "quota", "show", "--tenant", "t_cli", "--url", url],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("tenant t_cli  (time zone Europe/Berlin, hard enforcement)", out.stdout)
            row = [l.split() for l in out.stdout.splitlines() if l.startswith("queries") and " day " in l][0]
            self.assertEqual(row, ["queries", "day", "5", "5", "0", "at", "limit"])
            out = subprocess.run([METERD_BIN, "quota", "set", "--tenant", "t_cli", "--queries-per-day", "lots",
                                  "--url", url], capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 2)
            out = subprocess.run([METERD_BIN, "quota", "set", "--tenant", "t_cli", "--enforcement", "strict",
                                  "--url", url], capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 1)
            self.assertIn("meterd quota: 400 Bad Request: enforcement must be soft or hard (enforcement)", out.stderr)
            self.assertNotIn("{", out.stderr)  # not the raw problem JSON

    # Verifies bad quota settings are rejected with the field named.
    def test_bad_settings(self):
        with Meterd() as m:
            for body, field in (({"time_zone": "Mars/Base"}, "time_zone"), ({"enforcement": "strict"}, "enforcement"),
                                ({"queries_per_day": -1}, "queries_per_day"), ({"queries_per_week": 1}, "queries_per_week")):
                status, _, answer = m.request("PUT", "/v1/tenants/t_bad/quotas", body=body)
                self.assertEqual((status, answer["field"]), (400, field))


if __name__ == "__main__":
    main()
