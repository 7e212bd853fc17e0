#!/usr/bin/env python3
"""Heap allocations per request (issue 21): runs meterd with bench/alloc_count.cc preloaded and
sends a known number of requests of each kind, one connection, one at a time; prints the malloc
calls counted per request (the writer thread's group commits included) and, as the reference
measured in the same run, per GET /health. Deterministic up to background work (checkpoints,
the shipper's polls), which an idle second measures.
Usage: bench/alloc_per_request.py [BUILD_DIR]   (ALLOC_REQUESTS=5000 per kind)"""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
n = int(os.environ.get("ALLOC_REQUESTS", "5000"))
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
work = tempfile.mkdtemp(prefix="meterd-alloc-")
counts = os.path.join(work, "counts")
env = {k: v for k, v in os.environ.items() if not k.startswith("METERD_")}
env.update(LD_PRELOAD=os.path.join(root, build, "bench", "liballoc_count.so"), ALLOC_COUNT_FILE=counts)
proc = subprocess.Popen([os.path.join(root, build, "meterd"), "serve", "--listen", "127.0.0.1:0", "--data-dir", work],
                        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
try:
    line = proc.stdout.readline()  # "... serving http://127.0.0.1:PORT ..."
    port = int(line.split("serving http://")[1].split()[0].rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def read():
        time.sleep(0.15)  # the counter file is rewritten every 50 ms
        with open(counts) as f:
            return int(f.read().split()[0])

    def send(method, path, body=None):
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, (path, resp.status)

    def per_request(name, make, units=1):
        for i in range(200):  # warm: buffers, hash tables and the connection grown
            send(*make("warm-%d" % i))
        before = read()
        for i in range(n):
            send(*make(str(i)))
        after = read()
        value = (after - before) / (n * units)
        print("%-44s %8.1f allocations per %s" % (name, value, "event" if units > 1 else "request"))
        return value

    idle_before = read()
    time.sleep(1.0)
    print("%-44s %8d allocations in 1 s" % ("idle (background work)", read() - idle_before))
    tag = str(int(time.time()))
    health = per_request("GET /health (reference)", lambda i: ("GET", "/health"))
    event = '{"id":"%s","tenant_id":"tenant_bench","event_type":"query","quantity":1,' \
            '"metadata":{"endpoint":"/api/search"}}'
    client = per_request("POST /track, client id, one tenant", lambda i: ("POST", "/track", event % ("c" + tag + i)))
    seed = per_request("POST /track, seed format (no id, 50 tenants)", lambda i: (
        "POST", "/track", '{"tenant_id":"tenant_%d","event_type":"query","quantity":1,'
        '"metadata":{"endpoint":"/api/search"}}' % (hash(i) % 50)))
    batch = per_request("POST /v1/events, 100 events with ids", lambda i: (
        "POST", "/v1/events", "[" + ",".join(event % ("b%s-%s-%d" % (tag, i, k)) for k in range(100)) + "]"), 100)
    print("ratios to /health: client-id /track %.2f, seed /track %.2f" % (client / health, seed / health))
finally:
    proc.terminate()
    proc.wait(timeout=30)
    subprocess.run(["rm", "-rf", work])
