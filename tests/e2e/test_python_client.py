"""End-to-end: meterd's Python client (clients/python) against the real binary: typed calls
with exact decimals and problem-body errors, the UsageTracker through a meterd killed and
restarted mid-traffic, the seed's RAG API on FastAPI with MeteringMiddleware, and
`pip install ./clients/python`."""
import concurrent.futures
import datetime
import decimal
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from harness import Meterd, main, wait_until
from private_server import free_port

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
sys.path.insert(0, os.path.join(ROOT, "clients/python"))
import meterd  # noqa: E402

D = decimal.Decimal


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = Meterd().start()
        cls.client = meterd.Client("http://127.0.0.1:%d" % cls.m.port)

    @classmethod
    def tearDownClass(cls):
        cls.m.cleanup()

    # Verifies typed answers: quantities, limits and amounts are Decimals, instants aware datetimes.
    def test_typed_calls_are_exact(self):
        c = self.client
        settings = c.set_quota("py_exact", queries_per_day=1000, tokens_per_day=D("100000"), storage_gb=D("10.5"))
        self.assertEqual(settings.limits["storage_gb"], D("10.5"))
        for q in (D("0.1"), "0.1", 0.1):
            r = c.track("py_exact", "input_tokens", q, {"model": "m"})
            self.assertIsInstance(r.quantity, D)
            self.assertEqual(r.quantity, D("0.1"))
        self.assertEqual(c.track("py_exact", "query", id="q-1").status, "accepted")
        self.assertTrue(c.track("py_exact", "query", id="q-1").duplicate)
        status = c.check_quota("py_exact")
        self.assertEqual(status.quotas["queries"].used, D(1))
        self.assertEqual(status.quotas["tokens"].used, D("0.3"))
        self.assertEqual(status.quotas["queries"].remaining, D(999))
        self.assertTrue(status.within_quota)
        self.assertIsNotNone(status.resets_at.tzinfo)
        usage = c.usage("py_exact", window="month")
        self.assertEqual(usage.total("input_tokens"), D("0.3"))
        now = datetime.datetime.now(datetime.timezone.utc)
        invoice = c.invoice("py_exact", now.year, now.month)
        self.assertIsInstance(invoice.total, D)
        lines = {li.event_type: li for li in invoice.line_items}
        self.assertEqual(lines["query"].amount, D("0.01"))
        self.assertEqual(invoice.total, sum(li.amount for li in invoice.line_items))
        csv = c.invoice("py_exact", now.year, now.month, format="csv")
        self.assertIn("query", csv)
        batch = c.send_events([meterd.event_body("py_exact", "query", id="b-1"),
                               meterd.event_body("py exact", "query", id="b-2")])
        self.assertEqual((batch.accepted, batch.rejected), (1, 1))

    # Verifies errors carry meterd's problem body, by kind.
    def test_errors_carry_the_problem(self):
        with self.assertRaises(meterd.MeterdError) as bad:
            self.client.track("not a tenant", "query")
        self.assertEqual((bad.exception.status, bad.exception.field), (400, "tenant_id"))
        self.assertIn("tenant_id", bad.exception.problem["detail"])
        self.client.set_quota("py_hard", queries_per_day=1, enforcement="hard")
        self.client.track("py_hard", "query")
        with self.assertRaises(meterd.QuotaExceeded) as over:
            self.client.track("py_hard", "query")
        self.assertEqual(over.exception.field, "queries_per_day")
        self.assertGreater(over.exception.retry_after, 0)
        with self.assertRaises(meterd.MeterdUnavailable):
            meterd.Client("http://127.0.0.1:%d" % free_port(), timeout=2).health()
        with self.assertRaises(ValueError):
            self.client.invoice("py_hard", 2026, 11, format="pdf")


class TrackerTest(unittest.TestCase):
    # Verifies events tracked from several threads, with the old module's helpers, arrive exactly.
    def test_tracks_from_threads(self):
        with Meterd() as m, tempfile.TemporaryDirectory() as d:
            t = meterd.UsageTracker("http://127.0.0.1:%d" % m.port, batch_size=50, flush_interval=0.2,
                                    spill_path=os.path.join(d, "spill.jsonl"))
            ids = []

            def produce(n):
                for i in range(250):
                    ids.append(t.track("py_t%d" % n, "input_tokens", D("0.001")))
            threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            ids.extend(t.track_tokens("py_t0", input_tokens=1200, output_tokens=350, model="gpt"))
            ids.append(t.track_query("py_t0", endpoint="/api/search"))
            ids.append(t.track_storage("py_t0", 2.5))
            self.assertTrue(t.flush(timeout=30))
            t.close()
            self.assertEqual(t.stats.sent, 1004)
            self.assertEqual(t.stats.spilled, 0)
            stored = m.stored_ids()
            self.assertEqual(sorted(stored), sorted(ids))
            self.assertEqual(set(stored.values()), {1})
            usage = meterd.Client("http://127.0.0.1:%d" % m.port).usage("py_t1", window="month")
            self.assertEqual(usage.total("input_tokens"), D("0.25"))
            with self.assertRaises(RuntimeError):
                t.track("py_t0", "query")

    # Verifies the promise: meterd killed with SIGKILL mid-traffic and restarted on the same
    # port; the tracker spills what it cannot send and ships it later; every event is stored
    # exactly once, and track() never waited for the network meanwhile.
    def test_meterd_killed_and_restarted(self):
        port = free_port()
        data = tempfile.mkdtemp(prefix="meterd-py-")
        m = Meterd(data_dir=data, port=port).start()
        spill = os.path.join(data, "client-spill.jsonl")
        t = meterd.UsageTracker("http://127.0.0.1:%d" % port, batch_size=100, flush_interval=0.05,
                                spill_path=spill, retry_backoff=0.1, max_backoff=0.5, timeout=2)
        ids, slowest = [], [0.0]
        stop = threading.Event()

        def produce():
            i = 0
            while not stop.is_set():
                start = time.perf_counter()
                ids.append(t.track("py_crash", "query", metadata={"i": i}))
                slowest[0] = max(slowest[0], time.perf_counter() - start)
                i += 1
                time.sleep(0.0005)
        producer = threading.Thread(target=produce)
        try:
            producer.start()
            wait_until(lambda: t.stats.sent > 500, timeout=30)
            m.kill9()
            killed_at = len(ids)
            wait_until(lambda: t.stats.spilled > 0 and len(ids) > killed_at + 500, timeout=30)
            m = Meterd(data_dir=data, port=port).start()
            wait_until(lambda: len(ids) > killed_at + 1500, timeout=30)
            stop.set()
            producer.join()
            self.assertTrue(t.flush(timeout=60))
            t.close()
            stored = m.stored_ids("py_crash")
            self.assertEqual(len(ids), len(set(ids)))
            self.assertEqual(sorted(stored), sorted(ids), "every tracked event stored")
            self.assertEqual(set(stored.values()), {1}, "and once")
            self.assertGreater(t.stats.spilled, 0)
            self.assertFalse(os.path.getsize(spill), "the spill file was shipped and emptied")
            self.assertLess(slowest[0], 0.25, "track() never waits for the network")
        finally:
            stop.set()
            m.cleanup()
            shutil.rmtree(data, ignore_errors=True)

    # Verifies that a spill left by a previous process (it died before shipping) is shipped by
    # the next tracker, and events already stored are not stored twice.
    def test_ships_a_spill_left_behind(self):
        with Meterd() as m, tempfile.TemporaryDirectory() as d:
            spill = os.path.join(d, "spill.jsonl")
            url = "http://127.0.0.1:%d" % m.port
            meterd.Client(url).track("py_left", "query", id="left-1")
            with open(spill, "w") as f:
                f.write('{"id":"left-1","tenant_id":"py_left","event_type":"query","quantity":1}\n'
                        '{"id":"left-2","tenant_id":"py_left","event_type":"query","quantity":1}\n'
                        '{"id":"left-3","tenant_id":"py_left","event_ty')  # torn by a crash
            with meterd.UsageTracker(url, spill_path=spill, flush_interval=0.1) as t:
                self.assertTrue(t.flush(timeout=30))
            self.assertEqual(m.stored_ids("py_left"), {"left-1": 1, "left-2": 1})


class IdsTest(unittest.TestCase):
    # Verifies ids are UUIDv7 and a forked child (a pre-forking server's worker) never repeats
    # its parent's ids.
    def test_ids_are_unique_across_fork(self):
        from meterd._ids import new_event_id
        import uuid
        self.assertEqual(uuid.UUID(new_event_id(int(time.time() * 1000))).version, 7)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(w, ",".join(new_event_id(1) for _ in range(100)).encode())
            os._exit(0)
        os.waitpid(pid, 0)
        child = set(os.read(r, 1 << 16).decode().split(","))
        os.close(r)
        os.close(w)
        self.assertEqual(len(child), 100)
        self.assertFalse(child & {new_event_id(1) for _ in range(100)})


class RagApiTest(unittest.TestCase):
    """The seed's RAG API (examples/python_rag_api) on FastAPI, through starlette's TestClient."""

    def load_app(self, url, spill, admission):
        os.environ.update(METERD_URL=url, FALLBACK_FILE_PATH=spill, METERING_ADMISSION=admission)
        sys.path.insert(0, os.path.join(ROOT, "examples/python_rag_api"))
        try:
            import app as rag
            return importlib.reload(rag)
        finally:
            sys.path.pop(0)
            for k in ("METERD_URL", "FALLBACK_FILE_PATH", "METERING_ADMISSION"):
                os.environ.pop(k, None)

    # Verifies each request is metered as a query plus its tokens, and a used-up hard quota
    # answers 429 with Retry-After (check mode: read from /quota/check).
    def test_meters_requests_and_refuses_over_quota(self):
        from fastapi.testclient import TestClient
        with Meterd() as m, tempfile.TemporaryDirectory() as d:
            url = "http://127.0.0.1:%d" % m.port
            rag = self.load_app(url, os.path.join(d, "spill.jsonl"), "check")
            rag.app.user_middleware[0].options["quota_cache_seconds"] = 0  # read the quota every time
            meterd.Client(url).set_quota("py_rag", queries_per_day=3, enforcement="hard")
            input_tokens = 0
            with TestClient(rag.app) as http:
                for _ in range(3):
                    r = http.get("/ask", params={"q": "what is metering"}, headers={"X-Tenant-ID": "py_rag"})
                    self.assertEqual(r.status_code, 200, r.text)
                    input_tokens += r.json()["input_tokens"]
                    rag.tracker.flush(timeout=10)
                r = http.get("/ask", params={"q": "again"}, headers={"X-Tenant-ID": "py_rag"})
                self.assertEqual(r.status_code, 429, r.text)
                self.assertGreater(int(r.headers["retry-after"]), 0)
                self.assertEqual(r.headers["content-type"], "application/problem+json")
                self.assertIn("queries", r.json()["detail"])
                self.assertEqual(http.get("/health").status_code, 200)  # no tenant: not metered
                usage = http.get("/usage", headers={"X-Tenant-ID": "py_rag"}).json()
            self.assertEqual(usage["query"], "3")
            self.assertEqual(D(usage["input_tokens"]), input_tokens)
            self.assertGreater(D(usage["output_tokens"]), 0)

    # Verifies the app through a meterd killed with SIGKILL mid-traffic and restarted: requests
    # keep being answered (metering fails open), and every answered request's query and tokens
    # are stored exactly once.
    def test_meterd_killed_under_the_app(self):
        from fastapi.testclient import TestClient
        port = free_port()
        data = tempfile.mkdtemp(prefix="meterd-rag-")
        m = Meterd(data_dir=data, port=port).start()
        rag = self.load_app("http://127.0.0.1:%d" % port, os.path.join(data, "spill.jsonl"), "check")
        rag.tracker._retry_backoff, rag.tracker._max_backoff = 0.1, 0.5
        answered, stop = [], threading.Event()
        try:
            with TestClient(rag.app) as http:
                def traffic():
                    while not stop.is_set():
                        r = http.get("/ask", params={"q": "q"}, headers={"X-Tenant-ID": "py_kill"})
                        self.assertEqual(r.status_code, 200)
                        answered.append(r.json())
                sender = threading.Thread(target=traffic)
                sender.start()
                wait_until(lambda: len(answered) > 100, timeout=30)
                m.kill9()
                down_at = len(answered)
                wait_until(lambda: len(answered) > down_at + 100, timeout=30)
                m = Meterd(data_dir=data, port=port).start()
                wait_until(lambda: len(answered) > down_at + 200, timeout=30)
                stop.set()
                sender.join()
                self.assertTrue(rag.tracker.flush(timeout=60))
            self.assertGreater(rag.tracker.stats.spilled, 0)
            usage = meterd.Client("http://127.0.0.1:%d" % port).usage("py_kill", window="month")
            self.assertEqual(usage.total("query"), len(answered))
            self.assertEqual(usage.total("input_tokens"), sum(a["input_tokens"] for a in answered))
            self.assertEqual(usage.total("output_tokens"), sum(a["output_tokens"] for a in answered))
            self.assertEqual(set(m.stored_ids("py_kill").values()), {1})
        finally:
            stop.set()
            rag.tracker.close()
            m.cleanup()
            shutil.rmtree(data, ignore_errors=True)

    # Verifies track mode is exact: 8 threads racing at a hard limit of 10 get exactly 10 answers.
    def test_track_admission_is_exact(self):
        from fastapi.testclient import TestClient
        with Meterd() as m, tempfile.TemporaryDirectory() as d:
            url = "http://127.0.0.1:%d" % m.port
            rag = self.load_app(url, os.path.join(d, "spill.jsonl"), "track")
            meterd.Client(url).set_quota("py_race", queries_per_day=10, enforcement="hard")
            with TestClient(rag.app) as http:
                def ask(i):
                    return http.get("/ask", params={"q": "q%d" % i}, headers={"X-Tenant-ID": "py_race"}).status_code
                with concurrent.futures.ThreadPoolExecutor(8) as pool:
                    codes = list(pool.map(ask, range(40)))
            self.assertEqual(codes.count(200), 10)
            self.assertEqual(codes.count(429), 30)
            self.assertEqual(meterd.Client(url).check_quota("py_race").quotas["queries"].used, D(10))


class InstallTest(unittest.TestCase):
    # Verifies `pip install ./clients/python` into a venv, offline, and that the installed
    # package is the one imported there.
    def test_pip_install(self):
        with tempfile.TemporaryDirectory() as d:
            venv = os.path.join(d, "venv")
            source = os.path.join(d, "src")  # setuptools writes build/ beside the sources: not in the tree
            shutil.copytree(os.path.join(ROOT, "clients/python"), source,
                            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
            subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv], check=True, timeout=120)
            pip = subprocess.run([os.path.join(venv, "bin/pip"), "install", "--no-index", "--no-build-isolation",
                                  "--quiet", source],
                                 capture_output=True, text=True, timeout=300, cwd=d)
            self.assertEqual(pip.returncode, 0, pip.stderr)
            out = subprocess.run([os.path.join(venv, "bin/python"), "-c",
                                  "import meterd; print(meterd.__version__, meterd.__file__)"],
                                 capture_output=True, text=True, timeout=60, cwd=d)
            self.assertEqual(out.returncode, 0, out.stderr)
            version, path = out.stdout.split()
            self.assertEqual(version, "0.1.0")
            self.assertTrue(path.startswith(venv), path)


if __name__ == "__main__":
    main()
