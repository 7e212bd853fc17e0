"""Restarts keep exactly-once: the dedupe index saved at a clean stop, the events stored since,
and the full rebuild when the saved index cannot be trusted (a crash, another writer, damage)."""
import os
import time
import unittest

from harness import Meterd, main


def batch(prefix, n, tenant="acme"):
    return [{"id": "%s-%d" % (prefix, i), "tenant_id": tenant, "event_type": "query", "quantity": 1}
            for i in range(n)]


def counts(meterd, events):
    status, _, body = meterd.post("/v1/events", events)
    assert status == 200, (status, body)
    return body["accepted"], body["duplicates"]


def store_behind_meterds_back(meterd, event_id, tenant="acme"):
    """Appends an event straight into the current month's table, as another writer would."""
    now_ms = int(time.time() * 1000)
    table = "usage_events_" + time.strftime("%Y%m", time.gmtime())
    with meterd.db() as db:
        db.execute("INSERT INTO %s VALUES (?, ?, 'query', '1', ?, ?, '{}', NULL)" % table,
                   (event_id, tenant, now_ms, now_ms))


class RestartTest(unittest.TestCase):
    def setUp(self):
        self.meterd = Meterd().start()
        self.snapshot = os.path.join(self.meterd.data_dir, "dedupe.snapshot")

    def tearDown(self):
        self.meterd.cleanup()

    def restart(self):
        self.meterd.stop()
        self.meterd.start()

    # Verifies a clean stop saves the index, the next start reads it (once) plus the events stored
    # after it by someone else, and every id stays a duplicate.
    def test_clean_restart_reads_the_saved_index(self):
        self.assertEqual(counts(self.meterd, batch("a", 200)), (200, 0))
        self.meterd.stop()
        self.assertTrue(os.path.exists(self.snapshot))
        store_behind_meterds_back(self.meterd, "behind-1")
        self.meterd.start()
        log = self.meterd.log()
        self.assertIn("200 ids read from", log)
        self.assertIn("(1 from the events stored since the snapshot)", log)
        self.assertFalse(os.path.exists(self.snapshot))
        self.assertEqual(counts(self.meterd, batch("a", 200)), (0, 200))
        self.assertEqual(counts(self.meterd, [{"id": "behind-1", "tenant_id": "acme", "event_type": "query",
                                               "quantity": 1}]), (0, 1))
        self.assertEqual(counts(self.meterd, batch("b", 10)), (10, 0))
        self.assertTrue(all(n == 1 for n in self.meterd.stored_ids().values()))

    # Verifies a crash after a start from the saved index rebuilds from the events: the file was
    # consumed, and what was stored before and after it is still known.
    def test_crash_after_reading_it_rebuilds(self):
        counts(self.meterd, batch("a", 50))
        self.restart()
        counts(self.meterd, batch("b", 50))
        self.meterd.kill9()
        self.assertFalse(os.path.exists(self.snapshot))
        self.meterd.start()
        self.assertIn("(100 from the events)", self.meterd.log())
        self.assertEqual(counts(self.meterd, batch("a", 50) + batch("b", 50)), (0, 100))

    # Verifies an index is not saved when another process stored events while meterd ran (they are
    # not in it); the next start reads them from the store.
    def test_other_writer_while_running_means_full_rebuild(self):
        counts(self.meterd, batch("a", 20))
        store_behind_meterds_back(self.meterd, "beside-1")
        self.restart()
        self.assertIn("dedupe index not saved: 21 events were stored since start, 20 of them by this meterd",
                      self.meterd.log())
        self.assertIn("(21 from the events)", self.meterd.log())
        self.assertEqual(counts(self.meterd, batch("a", 20) + [{"id": "beside-1", "tenant_id": "acme",
                                                                  "event_type": "query", "quantity": 1}]), (0, 21))

    # Verifies a damaged file is refused with a reason and the index rebuilt from the events.
    def test_damaged_index_file_is_not_used(self):
        counts(self.meterd, batch("a", 30))
        self.meterd.stop()
        with open(self.snapshot, "r+b") as f:
            f.seek(60)
            byte = f.read(1)
            f.seek(60)
            f.write(bytes([byte[0] ^ 0xFF]))
        self.meterd.start()
        self.assertIn("not used: its checksum does not match", self.meterd.log())
        self.assertIn("(30 from the events)", self.meterd.log())
        self.assertEqual(counts(self.meterd, batch("a", 30)), (0, 30))


if __name__ == "__main__":
    main()
