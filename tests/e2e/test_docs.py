"""End-to-end: the OpenAPI document matches the routes meterd answers, and /docs serves it."""
import re
import unittest

from api_contract import CONTRACT, ContractError
from harness import Meterd, main


class DocsTest(unittest.TestCase):
    # Verifies every route the server answers is in /openapi.json and the reverse.
    def test_document_matches_routes(self):
        with Meterd() as m:
            status, _, doc = m.get("/openapi.json")
            self.assertEqual(status, 200)
            self.assertEqual(doc["openapi"][:2], "3.")
            documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
            metrics = m.get("/metrics")[2]
            served = set(re.findall(r'meterd_http_request_duration_seconds_count\{method="(\w+)",route="([^"]+)"\}',
                                    metrics))
            self.assertGreater(len(served), 15)
            self.assertEqual(sorted(served - documented), [], "routes missing from openapi.json")
            self.assertEqual(sorted(documented - served), [], "documented routes meterd does not answer")

    # Verifies the checker every e2e answer goes through refuses what the document does not say:
    # an undocumented status, a wrong media type, a body off its schema; and accepts a real one.
    def test_contract_checker_refuses_undocumented_answers(self):
        with Meterd() as m:
            status, headers, health = m.get("/health")
        CONTRACT.check("GET", "/health", status, headers["content-type"], health)
        for bad in ((418, "application/json", health), (200, "text/plain", "ok"),
                    (200, "application/json", dict(health, status="fine")),
                    (200, "application/json", {k: v for k, v in health.items() if k != "version"})):
            with self.assertRaises(ContractError, msg=repr(bad[:2])):
                CONTRACT.check("GET", "/health", *bad)
        with self.assertRaises(ContractError):
            CONTRACT.check("GET", "/v1/tenants/t/quotas", 200, "application/json",
                           {"tenant_id": "t", "quotas": {"queries": {"used": 1.5}}})

    # Verifies /docs renders with swagger-ui's files from npm, and nothing else is served there.
    def test_docs_page(self):
        with Meterd() as m:
            status, headers, page = m.get("/docs")
            self.assertEqual(status, 200)
            self.assertTrue(headers["content-type"].startswith("text/html"))
            self.assertIn("/docs/swagger-ui-bundle.js", page)
            self.assertIn('url: "/openapi.json"', page)
            for name, kind in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "css")):
                status, headers, body = m.get("/docs/" + name)
                self.assertEqual((status, kind in headers["content-type"]), (200, True), name)
                self.assertGreater(len(body), 1000)
            self.assertEqual(m.get("/docs/package.json")[0], 404)
            self.assertEqual(m.get("/docs/..%2Fopenapi.json")[0], 404)


if __name__ == "__main__":
    main()
