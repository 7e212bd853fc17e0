"""Restarts keep exactly-once. With the index in memory: the index saved at a clean stop, the
events stored since, and the full rebuild when the saved index cannot be trusted (a crash, another
writer, damage). With the index on disk (the default): its checkpoint, the events stored past it,
and the rebuild when the store was replaced."""
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
        self.meterd = Meterd(env={"METERD_DEDUPE_INDEX": "memory"}).start()
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


class DiskIndexRestartTest(unittest.TestCase):
    def setUp(self):
        self.meterd = Meterd().start()

    def tearDown(self):
        self.meterd.cleanup()

    def one(self, event_id):
        return [{"id": event_id, "tenant_id": "acme", "event_type": "query", "quantity": 1}]

    # Verifies a clean stop leaves nothing to read again, and events another process stored while
    # meterd was stopped are read from past the checkpoint.
    def test_clean_restart_reads_only_what_was_stored_since(self):
        self.assertEqual(counts(self.meterd, batch("a", 200)), (200, 0))
        self.meterd.stop()
        self.assertFalse(os.path.exists(os.path.join(self.meterd.data_dir, "dedupe.snapshot")))
        self.assertTrue(os.path.isdir(os.path.join(self.meterd.data_dir, "dedupe")))
        self.meterd.start()
        self.assertIn("(0 added from the 0 events stored since its checkpoint)", self.meterd.log())
        self.meterd.stop()
        store_behind_meterds_back(self.meterd, "behind-1")
        self.meterd.start()
        self.assertIn("(1 added from the 1 events stored since its checkpoint)", self.meterd.log())
        self.assertEqual(counts(self.meterd, batch("a", 200) + self.one("behind-1")), (0, 201))
        self.assertEqual(counts(self.meterd, batch("b", 10)), (10, 0))

    # Verifies an event another process stores while meterd runs is read in before the next
    # checkpoint passes it, so a kill -9 afterwards still knows its id.
    def test_other_writer_while_running_is_read_in(self):
        counts(self.meterd, batch("a", 20))
        store_behind_meterds_back(self.meterd, "beside-1")
        time.sleep(1.2)  # the next group after a second writes a checkpoint
        counts(self.meterd, batch("b", 5))
        self.assertIn("26 events were stored since the last dedupe checkpoint, 25 of them by this meterd",
                      self.meterd.log())
        self.meterd.kill9()
        self.meterd.start()
        self.assertEqual(counts(self.meterd, batch("a", 20) + batch("b", 5) + self.one("beside-1")), (0, 26))

    # Verifies an index left beside a replaced store is not believed: every id is free again.
    def test_replaced_store_clears_the_index(self):
        counts(self.meterd, batch("a", 30))
        self.meterd.stop()
        for name in os.listdir(self.meterd.data_dir):
            if name.startswith("meterd.db"):
                os.remove(os.path.join(self.meterd.data_dir, name))
        self.meterd.start()
        self.assertIn("names events the store no longer has", self.meterd.log())
        self.assertEqual(counts(self.meterd, batch("a", 30)), (30, 0))
        self.assertEqual(counts(self.meterd, batch("a", 30)), (0, 30))


if __name__ == "__main__":
    main()
