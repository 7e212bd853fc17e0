#!/usr/bin/env python3
"""What a cancel costs on the embedded store: loads N events (50 tenants, one month) into a
private meterd, then times POST /v1/events/cancel for one id, for an id the tenant does not have
(the whole month is read) and for 20 ids, and an invoice of that tenant afterwards.
Usage: bench/cancel_cost.py [N]   (N=1000000; METERD_BIN=build/meterd)"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
os.environ.setdefault("METERD_BIN", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "meterd"))
from harness import Meterd  # noqa: E402

m = Meterd(extra_args=["--set", "ingest.rate_limit_events_per_second=0", "--set", "ingest.max_events_per_request=10000"]).start()
m.check_contract = False
try:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    t0 = time.time()
    for b in range(n // 10000):
        body = "\n".join(json.dumps({"id": "e%d" % (b * 10000 + i), "tenant_id": "t%d" % (i % 50), "event_type": "query",
                                     "quantity": 1, "timestamp": now}) for i in range(10000))
        s, _, r = m.request("POST", "/v1/events", body=body, headers={"Content-Type": "application/x-ndjson"})
        assert s == 200, r
    print("loaded %d events in %.1f s" % (n, time.time() - t0))
    for ids in (["e0"], ["e%d" % (n - 1)], ["e%d" % i for i in range(50, 1050, 50)]):
        t0 = time.time()
        s, _, r = m.post("/v1/events/cancel", {"tenant_id": "t0", "ids": ids})
        print("cancel %d ids: %d, %.1f ms" % (len(ids), s, (time.time() - t0) * 1000), r.get("cancelled", r))
    t0 = time.time(); m.get("/v1/tenants/t0/invoices/" + time.strftime("%Y-%m")); print("invoice %.1f ms" % ((time.time() - t0) * 1000))
finally:
    m.cleanup()
