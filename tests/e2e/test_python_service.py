"""End-to-end: the Python service's documented curl examples, verbatim (only the port differs)."""
import datetime
import json
import subprocess
import unittest

from harness import Meterd, main

# The Python service's documentation, "API Endpoints" (docs/python-service.md).
DOCUMENTED_EXAMPLES = r'''
curl http://localhost:8000/health

curl -X POST http://localhost:8000/track \
  -H "Content-Type: application/json" \
  -d '{
    "tenant_id": "tenant_acme",
    "event_type": "query",
    "quantity": 1,
    "metadata": {"endpoint": "/api/search"}
  }'

curl -X POST http://localhost:8000/quota/check \
  -H "Content-Type: application/json" \
  -d '{"tenant_id": "tenant_acme"}'

curl -X POST http://localhost:8000/quota/set \
  -H "Content-Type: application/json" \
  -d '{
    "tenant_id": "tenant_acme",
    "queries_per_day": 1000,
    "tokens_per_day": 100000,
    "storage_gb": 10.0
  }'

curl -X POST http://localhost:8000/invoice/generate \
  -H "Content-Type: application/json" \
  -d '{
    "tenant_id": "tenant_acme",
    "year": 2025,
    "month": 11
  }'
'''


def documented_commands(port):
    """The examples as shell commands, pointed at the test's port."""
    blocks = [b.strip() for b in DOCUMENTED_EXAMPLES.strip().split("\n\n")]
    return [b.replace("localhost:8000", "localhost:%d" % port) for b in blocks]


def run_curl(command):
    out = subprocess.run(["bash", "-c", command + " -s -w '\\n%{http_code}'"], capture_output=True, text=True, timeout=30)
    body, _, code = out.stdout.rpartition("\n")
    return int(code), json.loads(body)


class SeedExamplesTest(unittest.TestCase):
    # Verifies each of its examples answers 200 with the fields its users rely on.
    def test_documented_curl_examples(self):
        with Meterd() as m:
            health, track, check, set_, invoice = [run_curl(c) for c in documented_commands(m.port)]
            self.assertEqual(health[0], 200)
            self.assertEqual(health[1]["status"], "ok")

            self.assertEqual(track[0], 200)
            self.assertEqual(track[1]["status"], "accepted")
            self.assertEqual(track[1]["tenant_id"], "tenant_acme")

            self.assertEqual(check[0], 200)
            queries = check[1]["quotas"]["queries"]
            self.assertEqual((queries["used"], queries["limit"], queries["remaining"]), ("1", "1000", "999"))
            self.assertEqual(check[1]["quotas"]["tokens"]["limit"], "100000")
            self.assertTrue(check[1]["within_quota"])

            self.assertEqual(set_[0], 200)
            self.assertEqual(set_[1]["storage_gb"], "10")

            self.assertEqual(invoice[0], 200)
            self.assertEqual(invoice[1]["invoice_number"], "INV-202511-tenant_acme")
            self.assertEqual(invoice[1]["total"], "0")

            # The stored event and metadata are exactly what was sent.
            with m.db() as db:
                table = "usage_events_" + datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m")
                rows = db.execute("SELECT tenant_id, event_type, quantity, metadata FROM %s" % table).fetchall()
            self.assertEqual(rows, [("tenant_acme", "query", "1", '{"endpoint":"/api/search"}')])

    # Verifies quota limits persist across a restart and an over-limit tenant is reported.
    def test_quota_set_persists_and_detects_overage(self):
        m = Meterd().start()
        try:
            m.post("/quota/set", {"tenant_id": "t_q", "queries_per_day": 2})
            for i in range(3):
                m.post("/track", {"tenant_id": "t_q", "event_type": "query"})
            m.stop()
            m2 = Meterd(data_dir=m.data_dir).start()
            try:
                status, _, body = m2.post("/quota/check", {"tenant_id": "t_q"})
                self.assertEqual(status, 200)
                q = body["quotas"]["queries"]
                self.assertEqual((q["used"], q["limit"], q["remaining"], q["exceeded"]), ("3", "2", "0", True))
                self.assertEqual(body["status"], "exceeded")
                status, _, body = m2.post("/quota/set", {"tenant_id": "t_q", "queries_per_dya": 2})
                self.assertEqual((status, body["field"]), (400, "queries_per_dya"))
            finally:
                m2.cleanup()
        finally:
            m.cleanup()

    # Verifies the invoice prices this month's usage at the Python service's default prices, exactly.
    def test_invoice_prices_usage(self):
        with Meterd() as m:
            events = [{"tenant_id": "t_inv", "event_type": "query", "quantity": 150},
                      {"tenant_id": "t_inv", "event_type": "input_tokens", "quantity": 123456},
                      {"tenant_id": "t_inv", "event_type": "output_tokens", "quantity": 1000}]
            self.assertEqual(m.post("/v1/events", events)[0], 200)
            now = datetime.datetime.now(datetime.timezone.utc)
            status, _, inv = m.post("/invoice/generate", {"tenant_id": "t_inv", "year": now.year, "month": now.month})
            self.assertEqual(status, 200, inv)
            amounts = {l["event_type"]: l["amount"] for l in inv["line_items"]}
            # 150 × 0.01 = 1.50; 123456 / 1000 × 0.003 = 0.370368 -> 0.37; 1000 / 1000 × 0.015 = 0.015 -> 0.02
            self.assertEqual(amounts, {"query": "1.5", "input_tokens": "0.37", "output_tokens": "0.02"})
            self.assertEqual(inv["total"], "1.89")
            status, _, body = m.post("/invoice/generate", {"tenant_id": "t_inv", "year": 2025, "month": 13})
            self.assertEqual((status, body["field"]), (400, "month"))


if __name__ == "__main__":
    main()
