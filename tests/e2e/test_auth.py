"""End-to-end: API keys, tenant scopes and the open (no keys) mode, through the real binary."""
import os
import sqlite3
import subprocess
import tempfile
import time
import unittest

from harness import METERD_BIN, Meterd, main, wait_until


def keys(data_dir, *args):
    out = subprocess.run([METERD_BIN, "keys"] + list(args) + ["--data-dir", data_dir],
                         capture_output=True, text=True, timeout=30)
    return out.returncode, out.stdout.strip(), out.stderr


def bearer(key):
    return {"Authorization": "Bearer " + key}


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="meterd-auth-")
        code, cls.admin, _ = keys(cls.dir, "create", "--admin", "--name", "ops")
        assert code == 0, cls.admin
        code, cls.acme, _ = keys(cls.dir, "create", "--tenant", "acme")
        assert code == 0
        code, cls.globex, _ = keys(cls.dir, "create", "--tenant", "globex")
        cls.m = Meterd(data_dir=cls.dir).start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()
        subprocess.run(["rm", "-rf", cls.dir])

    def post(self, path, body, key=None):
        return self.m.post(path, body, headers=bearer(key) if key else None)

    # Verifies keys are printed once, look like keys, and only their SHA-256 is stored.
    def test_keys_are_stored_hashed(self):
        self.assertRegex(self.acme, r"^mk_[0-9a-f]{40}$")
        with sqlite3.connect(os.path.join(self.dir, "keys.db")) as db:
            dump = "\n".join(db.iterdump())
        self.assertNotIn(self.acme[3:], dump)
        code, listing, _ = keys(self.dir, "list")
        self.assertEqual(code, 0)
        self.assertIn("acme", listing)
        self.assertNotIn(self.acme, listing)

    # Verifies that without a key, or with a wrong one, requests are refused with 401.
    def test_missing_or_wrong_key_is_401(self):
        for key in (None, "mk_" + "0" * 40, "not-a-key"):
            status, headers, body = self.post("/track", {"tenant_id": "acme", "event_type": "q"}, key)
            self.assertEqual(status, 401, body)
            self.assertEqual(headers.get("www-authenticate"), "Bearer")
        self.assertEqual(self.m.get("/health")[0], 200)  # public

    # Verifies a tenant key writes only its own tenant (403 otherwise) and may omit tenant_id.
    def test_tenant_key_writes_own_tenant_only(self):
        status, _, body = self.post("/track", {"id": "own-1", "event_type": "query"}, self.acme)
        self.assertEqual((status, body["tenant_id"]), (200, "acme"))
        status, _, body = self.post("/track", {"tenant_id": "globex", "event_type": "query"}, self.acme)
        self.assertEqual((status, body["field"]), (403, "tenant_id"))
        batch = [{"id": "b1", "tenant_id": "acme", "event_type": "q"}, {"id": "b2", "tenant_id": "globex", "event_type": "q"}]
        status, _, _ = self.post("/v1/events", batch, self.acme)
        self.assertEqual(status, 403)
        self.assertNotIn("b1", self.m.stored_ids("acme"))  # nothing of a refused batch is stored
        self.assertNotIn("b2", self.m.stored_ids("globex"))

    # Verifies reading another tenant's usage, quota or invoice answers 404 as if it did not exist.
    def test_other_tenants_are_invisible(self):
        self.post("/track", {"event_type": "query"}, self.globex)
        status, _, _ = self.m.get("/v1/usage?tenant_id=globex", headers=bearer(self.acme))
        self.assertEqual(status, 404)
        status, _, _ = self.m.get("/v1/usage?tenant_id=acme", headers=bearer(self.acme))
        self.assertEqual(status, 200)
        self.assertEqual(self.post("/quota/check", {"tenant_id": "globex"}, self.acme)[0], 404)
        self.assertEqual(self.post("/quota/check", {}, self.acme)[0], 200)
        self.assertEqual(self.post("/invoice/generate", {"tenant_id": "globex", "year": 2026, "month": 1}, self.acme)[0], 404)
        self.assertEqual(self.m.get("/v1/usage?tenant_id=globex", headers=bearer(self.admin))[0], 200)

    # Verifies quota changes need an admin key.
    def test_admin_only_routes(self):
        body = {"tenant_id": "acme", "queries_per_day": 5}
        self.assertEqual(self.post("/quota/set", body, self.acme)[0], 403)
        self.assertEqual(self.post("/quota/set", body, self.admin)[0], 200)

    # Verifies a revoked key stops working while the server runs.
    def test_revocation_applies_to_running_server(self):
        code, key, _ = keys(self.dir, "create", "--tenant", "acme", "--name", "temp")
        self.assertTrue(wait_until(lambda: self.post("/track", {"event_type": "q"}, key)[0] == 200, timeout=5))
        _, listing, _ = keys(self.dir, "list")
        key_id = [l.split()[0] for l in listing.splitlines() if l.endswith("temp")][0]
        self.assertEqual(keys(self.dir, "revoke", key_id)[0], 0)
        self.assertTrue(wait_until(lambda: self.post("/track", {"event_type": "q"}, key)[0] == 401, timeout=5))
        self.assertNotEqual(keys(self.dir, "revoke", "nosuchid")[0], 0)


class OpenModeTest(unittest.TestCase):
    # Verifies that without keys meterd refuses a non-loopback address, naming the fix.
    def test_refuses_public_address_without_keys(self):
        with tempfile.TemporaryDirectory() as d:
            out = subprocess.run([METERD_BIN, "serve", "--listen", "0.0.0.0:0", "--data-dir", d],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 1)
            self.assertIn("meterd keys create --admin", out.stderr)

    # Verifies that without keys on loopback it serves, and says so.
    def test_serves_loopback_without_keys_and_warns(self):
        with Meterd() as m:
            self.assertEqual(m.post("/track", {"tenant_id": "t", "event_type": "q"})[0], 200)
            self.assertIn("no API keys", m.log())

    # Verifies key creation refuses bad arguments.
    def test_keys_create_arguments(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(keys(d, "create")[0], 2)
            self.assertEqual(keys(d, "create", "--admin", "--tenant", "x")[0], 2)
            self.assertEqual(keys(d, "create", "--tenant", "bad tenant")[0], 2)


if __name__ == "__main__":
    main()
