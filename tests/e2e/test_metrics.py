"""End-to-end: /metrics in Prometheus' text format, checked by Debian's promtool."""
import shutil
import subprocess
import unittest

from harness import Meterd, main


def samples(text):
    """{name{labels}: value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


class MetricsTest(unittest.TestCase):
    # Verifies the counters move with what happened, latency histograms per route exist, and
    # promtool accepts the whole page.
    def test_metrics(self):
        with Meterd() as m:
            self.assertEqual(m.post("/track", {"tenant_id": "a", "event_type": "query", "quantity": 1})[0], 200)
            self.assertEqual(m.post("/track", {"tenant_id": "a", "event_type": "query", "quantity": -1})[0], 400)
            m.post("/v1/events", [{"id": "x", "tenant_id": "a", "event_type": "q", "quantity": 1},
                                  {"id": "x", "tenant_id": "a", "event_type": "q", "quantity": 1},
                                  {"tenant_id": "a", "event_type": "q", "timestamp": "yesterday"}])
            status, headers, text = m.get("/metrics")
            self.assertEqual(status, 200)
            self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
            s = samples(text)
            self.assertEqual(s["meterd_events_accepted_total"], 2)
            self.assertEqual(s["meterd_events_deduplicated_total"], 1)
            self.assertEqual(s['meterd_events_rejected_total{reason="quantity"}'], 1)
            self.assertEqual(s['meterd_events_rejected_total{reason="timestamp"}'], 1)
            self.assertEqual(s['meterd_http_request_duration_seconds_count{method="POST",route="/track"}'], 2)
            self.assertEqual(s['meterd_http_request_duration_seconds_bucket{method="POST",route="/track",le="+Inf"}'], 2)
            self.assertGreaterEqual(s["meterd_commit_duration_seconds_count"], 1)
            self.assertNotIn("meterd_log_backlog_events", s)  # embedded store only: nothing to ship

            promtool = shutil.which("promtool")
            self.assertIsNotNone(promtool, "promtool missing: run scripts/install-deps")
            check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)


if __name__ == "__main__":
    main()
