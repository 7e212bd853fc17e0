"""End-to-end: the dashboard in headless Chromium (Debian's), driven by playwright-core (npm),
over demo data; the checks are in web/tests/dashboard.mjs. Saves BUILD/dashboard.png."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import METERD_BIN, Meterd, main

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")


class DashboardTest(unittest.TestCase):
    def run_page(self, port, screenshot, *extra):
        node = shutil.which("node")
        self.assertIsNotNone(node, "node missing: run scripts/install-deps")
        self.assertTrue(os.path.exists("/usr/bin/chromium"), "chromium missing: run scripts/install-deps")
        out = subprocess.run([node, os.path.join(ROOT, "web/tests/dashboard.mjs"), "http://127.0.0.1:%d" % port,
                              screenshot] + list(extra), capture_output=True, text=True, timeout=180)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("dashboard ok", out.stdout)
        self.assertGreater(os.path.getsize(screenshot), 10000)

    # Verifies the month picker, tenant-zone days, locale numbers and layout (open mode).
    def test_dashboard_shows_the_api_numbers(self):
        with Meterd(extra_args=["--demo"]) as m:
            self.run_page(m.port, os.path.join(os.path.dirname(METERD_BIN), "dashboard.png"))

    # Verifies that with keys set up the page explains the missing key, then works with one.
    def test_missing_key_is_explained(self):
        data_dir = tempfile.mkdtemp(prefix="meterd-dashboard-")
        created = subprocess.run([METERD_BIN, "--data-dir", data_dir, "keys", "create", "--admin"],
                                 capture_output=True, text=True)
        self.assertEqual(created.returncode, 0, created.stderr)
        key = created.stdout.strip()
        m = Meterd(data_dir=data_dir, extra_args=["--demo"])
        m.owns_dir = True
        with m:
            self.run_page(m.port, os.path.join(data_dir, "dashboard-key.png"), "--key", key)


if __name__ == "__main__":
    main()
