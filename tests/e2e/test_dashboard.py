"""End-to-end: the dashboard in headless Chromium (Debian's), driven by playwright-core (npm),
over demo data; the checks are in web/tests/dashboard.mjs. Saves BUILD/dashboard.png."""
import os
import shutil
import subprocess
import unittest

from harness import METERD_BIN, Meterd, main

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")


class DashboardTest(unittest.TestCase):
    def test_dashboard_shows_the_api_numbers(self):
        node = shutil.which("node")
        self.assertIsNotNone(node, "node missing: run scripts/install-deps")
        self.assertTrue(os.path.exists("/usr/bin/chromium"), "chromium missing: run scripts/install-deps")
        screenshot = os.path.join(os.path.dirname(METERD_BIN), "dashboard.png")
        with Meterd(extra_args=["--demo"]) as m:
            out = subprocess.run([node, os.path.join(ROOT, "web/tests/dashboard.mjs"), "http://127.0.0.1:%d" % m.port,
                                  screenshot], capture_output=True, text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn("dashboard ok", out.stdout)
        self.assertGreater(os.path.getsize(screenshot), 10000)


if __name__ == "__main__":
    main()
