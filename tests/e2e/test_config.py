"""End-to-end: configuration sources and `meterd config show`, through the real binary."""
import os
import subprocess
import tempfile
import time
import unittest

from harness import METERD_BIN, Meterd, main


def meterd(args, cwd, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("BUFFER_", "RETENTION_", "METERD_"))}
    full_env.update(env or {})
    return subprocess.run([METERD_BIN] + args, capture_output=True, text=True, cwd=cwd, env=full_env, timeout=30)


class ConfigTest(unittest.TestCase):
    # Verifies toml < .env < environment < flags, as `config show` reports them.
    def test_precedence_and_sources(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "meterd.toml"), "w") as f:
                f.write('[buffer]\nsize = 10\n[retention]\nmonths = 12\n[server]\nlog_level = "warn"\n')
            with open(os.path.join(d, ".env"), "w") as f:
                f.write("BUFFER_SIZE=20\nRETENTION_MONTHS=24\n")
            out = meterd(["config", "show", "--set", "buffer.size=40"], d, {"RETENTION_MONTHS": "30"})
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("size = 40  # flag; env BUFFER_SIZE", out.stdout)
            self.assertIn("months = 30  # env RETENTION_MONTHS\n", out.stdout)  # the variable named once
            self.assertIn('log_level = "warn"  # meterd.toml', out.stdout)

    # Verifies a bad value stops meterd with a message naming the setting, before serving.
    def test_bad_config_fails_clearly(self):
        with tempfile.TemporaryDirectory() as d:
            out = meterd(["serve", "--data-dir", d], d, {"FLUSH_INTERVAL_SECONDS": "soon"})
            self.assertEqual(out.returncode, 2)
            self.assertIn("buffer.flush_interval_seconds (env FLUSH_INTERVAL_SECONDS): 'soon'", out.stderr)
            out = meterd(["serve", "--listen", "nonsense", "--data-dir", d], d)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn("host:port", out.stderr)
            out = meterd(["frobnicate"], d)
            self.assertNotEqual(out.returncode, 0)

    # Verifies the Python service's environment variables reach a running server (default quota here).
    def test_python_service_env_reaches_server(self):
        with Meterd(env={"DEFAULT_QUOTA_QUERIES": "7"}) as m:
            status, _, body = m.post("/quota/check", {"tenant_id": "t_env"})
            self.assertEqual(body["quotas"]["queries"]["limit"], "7")



class ReplayUnreachableTest(unittest.TestCase):
    # Verifies replay says at once that meterd is unreachable at its URL, with the countdown to
    # the next attempt, instead of printing nothing for a minute.
    def test_unreachable_is_said_at_once(self):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed again: nothing listens there
        path = os.path.join(tempfile.mkdtemp(prefix="meterd-replay-"), "events.jsonl")
        with open(path, "w") as f:
            f.write('{"tenant_id": "a", "event_type": "query"}\n' * 3)
        url = "http://127.0.0.1:%d" % port
        proc = subprocess.Popen([METERD_BIN, "replay", path, "--url", url], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            started = time.time()
            first = proc.stderr.readline()
            second = proc.stderr.readline()
            self.assertLess(time.time() - started, 3)
            self.assertIn("meterd is unreachable at " + url, first)
            self.assertIn("retrying in", second)
            self.assertIn("attempt 1 of", second)
        finally:
            proc.kill()
            proc.wait()


class CommandLineTest(unittest.TestCase):
    # Verifies usage errors exit 2 with the unknown command and the nearest one named, and that
    # a subcommand's help lists the global options and --help the exit codes.
    def test_usage_errors_and_help(self):
        with tempfile.TemporaryDirectory() as d:
            out = meterd(["serv"], d)
            self.assertEqual(out.returncode, 2)
            self.assertIn("unknown command 'serv'; did you mean 'serve'?", out.stderr)
            out = meterd(["invoice", "--tenant", "x"], d)
            self.assertEqual(out.returncode, 2)
            self.assertIn("--month is required", out.stderr)
            out = meterd(["quota", "show", "--help"], d)
            self.assertEqual(out.returncode, 0)
            self.assertIn("--data-dir DIR", out.stdout)
            out = meterd(["--help"], d)
            self.assertIn("Exit codes: 0 done; 1 a problem", out.stdout)

if __name__ == "__main__":
    main()
