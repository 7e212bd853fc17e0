"""End-to-end: kill -9 and SIGTERM under load lose no acknowledged event and duplicate none."""
import decimal
import http.client
import json
import threading
import time
import unittest

from harness import Meterd, main, wait_until

THREADS = 8
BATCH = 20


def load(m, stop, acked, sent, worker):
    """Sends batches and single events on one keep-alive connection until stopped or refused."""
    conn = m.connection()
    try:
        send_until_stopped(conn, stop, acked, sent, worker)
    finally:
        conn.close()


def send_until_stopped(conn, stop, acked, sent, worker):
    seq = 0
    while not stop.is_set():
        ids = ["w%d-%d" % (worker, seq + i) for i in range(BATCH)]
        seq += BATCH
        events = [{"id": i, "tenant_id": "crash_%d" % (worker % 3), "event_type": "tokens", "quantity": "1.5"}
                  for i in ids]
        sent.update(ids)
        try:
            if worker % 2 == 0:
                conn.request("POST", "/v1/events", body=json.dumps(events), headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                body = json.loads(resp.read())
                if resp.status == 200:
                    acked.update(r["id"] for r in body["results"] if r["status"] in ("accepted", "duplicate"))
            else:
                for ev in events:
                    conn.request("POST", "/track", body=json.dumps(ev), headers={"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status == 200:
                        acked.add(ev["id"])
        except (OSError, http.client.HTTPException):
            return  # the server died under us: whatever was not acknowledged may or may not be stored


def run_load(m, seconds, workers=THREADS, extra=()):
    """Runs `workers` event loads, and each of `extra` (called with the stop event), for `seconds`."""
    stop = threading.Event()
    acked, sent = set(), set()
    threads = [threading.Thread(target=load, args=(m, stop, acked, sent, w)) for w in range(workers)]
    threads += [threading.Thread(target=f, args=(stop,)) for f in extra]
    for t in threads:
        t.start()
    time.sleep(seconds)
    return stop, threads, acked, sent


def kill9_under_load(m, stop, threads):
    m.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=30)


def rollups_match_raw(m):
    """True when usage_daily and usage_quarter_hour sums equal the raw events' sums per tenant."""
    with m.db() as db:
        raw = {}
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'usage_events_%'")]
        for t in tables:
            for tenant, q in db.execute("SELECT tenant_id, quantity FROM %s" % t):
                raw[tenant] = raw.get(tenant, decimal.Decimal(0)) + decimal.Decimal(q)
        for table in ("usage_daily", "usage_quarter_hour"):
            rolled = {}
            for tenant, q in db.execute("SELECT tenant_id, quantity FROM %s" % table):
                rolled[tenant] = rolled.get(tenant, decimal.Decimal(0)) + decimal.Decimal(q)
            if rolled != raw:
                return False
    return True


class CrashTest(unittest.TestCase):
    # Verifies kill -9 mid-load: every acknowledged id is stored exactly once after restart,
    # and resending everything afterwards stores nothing twice.
    def test_kill9_loses_nothing_acknowledged(self):
        m = Meterd().start()
        try:
            stop, threads, acked, sent = run_load(m, 2.0)
            kill9_under_load(m, stop, threads)
            self.assertGreater(len(acked), 500, "the load should have been acknowledged in bulk")

            m2 = Meterd(data_dir=m.data_dir).start()
            try:
                stored = m2.stored_ids()
                missing = acked - set(stored)
                doubled = {i: n for i, n in stored.items() if n > 1}
                self.assertFalse(missing, "acknowledged but lost: %d ids" % len(missing))
                self.assertFalse(doubled, "stored more than once: %r" % list(doubled.items())[:5])
                self.assertTrue(rollups_match_raw(m2))

                # Retry everything that was sent: known ids must be duplicates, none stored twice.
                conn = m2.connection()
                self.addCleanup(conn.close)
                ids = sorted(sent)
                dup_count = 0
                for start in range(0, len(ids), 1000):
                    chunk = ids[start:start + 1000]
                    events = [{"id": i, "tenant_id": "crash_%d" % (int(i[1:].split("-")[0]) % 3),
                               "event_type": "tokens", "quantity": "1.5"} for i in chunk]
                    status, _, body = m2.post("/v1/events", events, conn=conn)
                    self.assertEqual(status, 200)
                    dup_count += body["duplicates"]
                self.assertEqual(dup_count, len(stored))
                stored = m2.stored_ids()
                self.assertEqual(set(stored), sent)
                self.assertEqual(max(stored.values()), 1)
                self.assertTrue(rollups_match_raw(m2))
            finally:
                m2.cleanup()
        finally:
            m.cleanup()

    # Verifies that after a kill -9 the disk index's filter, rebuilt from its files, is taken in by
    # an idle meterd (/health says when), and that the ids on disk stay duplicates.
    def test_filter_rebuilt_after_kill9_while_idle(self):
        m = Meterd().start()
        try:
            event = lambda i: [{"id": i, "tenant_id": "f", "event_type": "q", "quantity": 1}]
            self.assertEqual(m.post("/v1/events", event("before-stop"))[2]["accepted"], 1)
            m.stop()  # a clean stop writes the ids to a file and saves the filter
            m.start()
            self.assertTrue(m.get("/health")[2]["dedupe_filter_ready"])
            self.assertEqual(m.post("/v1/events", event("before-kill"))[2]["accepted"], 1)
            m.kill9()  # the saved filter was let go at start: it must be built again
            m.start()
            # Nothing but /health is sent: no group would take the filter in (it is false at
            # first, for about the writer's idle second; not asserted, a slow start may miss it).
            self.assertTrue(wait_until(lambda: m.get("/health")[2]["dedupe_filter_ready"], timeout=10), m.log())
            for i in ("before-stop", "before-kill"):
                self.assertEqual(m.post("/v1/events", event(i))[2]["duplicates"], 1, i)
        finally:
            m.cleanup()

    # Verifies SIGTERM under load: in-flight requests finish, meterd exits 0, nothing acked is lost.
    def test_sigterm_drains(self):
        m = Meterd().start()
        try:
            stop, threads, acked, sent = run_load(m, 1.0)
            code = m.stop()
            stop.set()
            for t in threads:
                t.join(timeout=30)
            self.assertEqual(code, 0, m.log())
            m2 = Meterd(data_dir=m.data_dir).start()
            try:
                stored = m2.stored_ids()
                self.assertFalse(acked - set(stored))
                self.assertEqual(max(stored.values()), 1)
            finally:
                m2.cleanup()
        finally:
            m.cleanup()



def correct_until_stopped(m, stop, kind, ids, sent, acked):
    """Cancels or amends the stored events `ids` one request each, until stopped or refused."""
    conn = m.connection()
    try:
        for i in ids:
            if stop.is_set():
                return
            if kind == "cancel":
                body = {"tenant_id": "ct", "ids": [i], "correction_id": "c-" + i}
            else:
                body = {"tenant_id": "ct", "id": i, "set": {"quantity": 5}, "correction_id": "a-" + i}
            sent.append((kind, i, body))
            conn.request("POST", "/v1/events/" + kind, body=json.dumps(body), headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                acked.add(i)
    except (OSError, http.client.HTTPException):
        return
    finally:
        conn.close()


class CorrectionCrashTest(unittest.TestCase):
    # Verifies kill -9 while events and corrections (cancels, amends) arrive together: after a
    # restart every acknowledged event and correction is there, and sending every correction
    # again applies each exactly once (one retraction per event, one replacement per amend),
    # with the rollups equal to the raw rows.
    def test_kill9_during_corrections(self):
        m = Meterd().start()
        try:
            for start in range(0, 2000, 500):
                batch = [{"id": "e%d" % i, "tenant_id": "ct", "event_type": "tokens", "quantity": "2"}
                         for i in range(start, start + 500)]
                self.assertEqual(m.post("/v1/events", batch)[2]["accepted"], 500)
            corrections, corrected = [], set()

            def corrector(kind, ids):
                return lambda stop: correct_until_stopped(m, stop, kind, ["e%d" % i for i in ids], corrections,
                                                          corrected)

            stop, threads, acked, sent = run_load(
                m, 2.0, workers=4, extra=(corrector("cancel", range(0, 1000)), corrector("amend", range(1000, 2000))))
            kill9_under_load(m, stop, threads)
            self.assertGreater(len(corrected), 20, "corrections should have been acknowledged")

            m2 = Meterd(data_dir=m.data_dir).start()
            try:
                stored = m2.stored_ids()
                self.assertFalse(acked - set(stored), "acknowledged events lost")
                self.assertFalse({"~" + i for i in corrected} - set(stored), "acknowledged corrections lost")
                for kind, i, body in corrections:  # the clients' retries
                    status, _, answer = m2.post("/v1/events/" + kind, body)
                    self.assertEqual(status, 200, (kind, i, answer))
                stored = m2.stored_ids()
                self.assertEqual(max(stored.values()), 1, "a row stored twice")
                amended = {i for kind, i, _ in corrections if kind == "amend"}
                cancelled = {i for kind, i, _ in corrections if kind == "cancel"}
                self.assertEqual({i for i in stored if i.startswith("~")}, {"~" + i for i in amended | cancelled})
                self.assertEqual({i for i in stored if i.startswith("a-")}, {"a-" + i for i in amended})
                self.assertTrue(rollups_match_raw(m2))
                day = 86400
                span = "from=%s&to=%s" % (time.strftime("%Y-%m-%d", time.gmtime(time.time() - day)),
                                          time.strftime("%Y-%m-%d", time.gmtime(time.time() + 2 * day)))
                usage = m2.get("/v1/usage?tenant_id=ct&" + span)[2]
                total = sum(decimal.Decimal(t["quantity"]) for t in usage["totals"] if t["event_type"] == "tokens")
                self.assertEqual(total, 2 * (2000 - len(amended) - len(cancelled)) + 5 * len(amended))
            finally:
                m2.cleanup()
        finally:
            m.cleanup()


if __name__ == "__main__":
    main()
