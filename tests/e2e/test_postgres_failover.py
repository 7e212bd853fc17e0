"""meterd on a PostgreSQL primary with a synchronous standby: the primary is killed with SIGKILL
under load and the standby promoted. Nothing acknowledged is lost, nothing is stored twice, and
the requests in the gap are told to retry (503), never acknowledged."""
import threading
import time
import unittest

from harness import Meterd, main, wait_until
from postgres import Postgres


class FailoverTest(unittest.TestCase):
    # Verifies every event acknowledged before, during and after a failover is stored exactly
    # once on the promoted standby, and that meterd reconnects to it without a restart.
    def test_primary_killed_standby_promoted(self):
        primary = Postgres().start()
        standby = Postgres(standby_of=primary).start()
        try:
            primary.run("synchronous", str(primary.port))
            url = ("postgresql://meterd@127.0.0.1:%d,127.0.0.1:%d/meterd?target_session_attrs=read-write"
                   % (primary.port, standby.port))
            with Meterd(extra_args=["--store", url, "--set", "store.timeout_seconds=2"]) as m:
                acked, unanswered, statuses = set(), [], []
                lock = threading.Lock()

                def client(c, until):
                    conn = m.connection()
                    n = 0
                    while time.time() < until:
                        batch = [{"id": "f%d-%d" % (c, n * 20 + i), "tenant_id": "t%d" % (i % 3),
                                  "event_type": "query", "quantity": 1} for i in range(20)]
                        n += 1
                        status, _, _ = m.post("/v1/events", batch, conn=conn)
                        with lock:
                            statuses.append(status)
                            if status == 200:
                                acked.update(e["id"] for e in batch)
                            else:
                                unanswered.append(batch)
                    conn.close()

                until = time.time() + 6
                clients = [threading.Thread(target=client, args=(c, until)) for c in range(2)]
                for t in clients:
                    t.start()
                time.sleep(1.5)
                primary.run("kill")
                time.sleep(1.5)  # the gap: no primary
                standby.run("promote")
                for t in clients:
                    t.join()
                self.assertIn(503, statuses)
                self.assertEqual(set(statuses) - {200, 503}, set(), statuses)
                for batch in unanswered:  # a client resends what was not acknowledged
                    self.assertTrue(wait_until(lambda: m.post("/v1/events", batch)[0] == 200, timeout=20),
                                    m.log())
                stored = standby.ids()
                self.assertTrue(acked)
                self.assertTrue(acked <= set(stored), "acknowledged events lost in the failover")
                self.assertEqual(set(stored), acked | {e["id"] for b in unanswered for e in b})
                self.assertEqual(max(stored.values()), 1)
        finally:
            standby.cleanup()
            primary.cleanup()


if __name__ == "__main__":
    main()
