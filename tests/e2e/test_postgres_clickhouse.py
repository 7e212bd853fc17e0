"""Several meterd nodes on one PostgreSQL, shipping to ClickHouse: one ships, another takes over."""
import threading
import time
import unittest

from clickhouse import ClickHouse
from harness import Meterd, main, wait_until
from postgres import Postgres

FAST_SHIPPING = ["--set", "buffer.size=300", "--set", "buffer.catch_up_size=300", "--set", "buffer.flush_interval_seconds=0.1"]


def backend(m):
    return m.get("/health")[2]["backend"]


class PostgresClickHouseTest(unittest.TestCase):
    def setUp(self):
        self.pg = Postgres().start()
        self.ch = ClickHouse().start()

    def tearDown(self):
        self.pg.cleanup()
        self.ch.cleanup()

    def node(self, clickhouse=True):
        args = ["--store", self.pg.url]
        if clickhouse:
            args += ["--clickhouse", self.ch.url] + FAST_SHIPPING
        return Meterd(extra_args=args)

    def send(self, m, prefix, count, acked, stop=None):
        """Posts batches of 50 until `count` events or `stop` is set; acknowledged ids into `acked`."""
        conn = m.connection()
        for start in range(0, count, 50):
            if stop is not None and stop.is_set():
                break
            events = [{"id": "%s-%d" % (prefix, i), "tenant_id": "t%d" % (i % 5), "event_type": "query",
                       "quantity": i % 7 + 1} for i in range(start, start + 50)]
            try:
                status, _, body = m.post("/v1/events", events, conn=conn)
            except OSError:
                break  # the node was killed
            self.assertEqual(status, 200, body)
            acked.extend(e["id"] for e in events)
        conn.close()

    # Verifies that of several nodes exactly one ships to ClickHouse; that events acknowledged by
    # a node without ClickHouse configured are shipped too; that when the shipping node is killed
    # with SIGKILL under load another takes over within seconds; and that every acknowledged
    # event is in ClickHouse exactly once, with the usage ClickHouse answers equal to PostgreSQL's.
    def test_one_node_ships_and_another_takes_over(self):
        with self.node() as a, self.node() as b, self.node(clickhouse=False) as c:
            self.assertTrue(wait_until(lambda: backend(a)["ships_here"] != backend(b)["ships_here"], timeout=10),
                            (backend(a), backend(b)))
            shipper, other = (a, b) if backend(a)["ships_here"] else (b, a)
            acked = []
            stop = threading.Event()
            threads = [threading.Thread(target=self.send, args=(n, p, 4000, acked, stop))
                       for n, p in ((shipper, "s"), (other, "o"), (c, "c"))]
            for t in threads:
                t.start()
            self.assertTrue(wait_until(lambda: len(self.ch.ids()) > 500, timeout=30), backend(shipper))
            shipper.kill9()
            killed_at = time.monotonic()
            self.assertTrue(wait_until(lambda: backend(other)["ships_here"], timeout=15, interval=0.05),
                            backend(other))
            took_over = time.monotonic() - killed_at
            print("another node ships %.2f s after the shipping node was killed" % took_over)
            stop.set()
            for t in threads:
                t.join()
            self.send(c, "after", 500, acked)  # through the node without ClickHouse

            def shipped():
                h = backend(other)
                return h["backlog_events"] == 0 and len(self.ch.ids()) >= len(acked)
            self.assertTrue(wait_until(shipped, timeout=60, interval=0.2), backend(other))
            stored = self.ch.ids()
            self.assertEqual(set(acked) - set(stored), set())  # every acknowledged event shipped
            self.assertEqual(max(stored.values()), 1)
            # Beyond them only events of the killed node's last requests: committed, unanswered.
            self.assertTrue(all(i.startswith("s-") for i in set(stored) - set(acked)))
            self.assertEqual(set(self.pg.ids()), set(stored))  # whatever PostgreSQL holds is shipped

            path = "/v1/usage?tenant_id=t3&window=month&from=2000-01-01&to=2100-01-01"
            self.assertEqual(other.get("/health")[2]["store"], "clickhouse")
            from_clickhouse, from_postgres = other.get(path)[2], c.get(path)[2]
            self.assertEqual(from_clickhouse, from_postgres)
            self.assertNotEqual(from_clickhouse["buckets"], [], from_clickhouse)


if __name__ == "__main__":
    main()
