"""Starts the real meterd binary on a free loopback port and speaks HTTP to it.

Used by every end-to-end test; the binary comes from $METERD_BIN (set by CTest).
"""
import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

from api_contract import CONTRACT

METERD_BIN = os.path.abspath(os.environ.get("METERD_BIN", os.path.join(os.path.dirname(__file__), "../../build/meterd")))


class Meterd:
    """One meterd process with its own data folder. Use as a context manager or call stop()."""

    def __init__(self, data_dir=None, extra_args=(), env=None, port=0):
        self.listen_port = port  # 0: a free one, chosen by meterd
        self.owns_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="meterd-e2e-")
        self.extra_args = list(extra_args)
        self.env = env
        self.proc = None
        self.port = None
        self.check_contract = True  # every answer is checked against web/openapi.json

    def start(self):
        env = dict(os.environ)
        for key in list(env):
            if key.startswith(("METERD_", "CLICKHOUSE_", "PRICE_", "DEFAULT_QUOTA_", "BUFFER_", "FLUSH_")):
                del env[key]
        env.update(self.env or {})
        self.stderr_path = os.path.join(self.data_dir, "meterd.stderr")
        self.stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            [METERD_BIN, "serve", "--listen", "127.0.0.1:%d" % self.listen_port, "--data-dir", self.data_dir]
            + self.extra_args,
            stdout=subprocess.PIPE, stderr=self.stderr, cwd=self.data_dir, env=env)
        line = self.proc.stdout.readline().decode()
        if "serving http://" not in line:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # it printed something else first: never leave it running
                self.proc.wait()
            raise RuntimeError("meterd did not start: %r\n%s" % (line, self.log()))
        self.port = int(line.split("serving http://")[1].split()[0].rsplit(":", 1)[1])
        return self

    def log(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        if self.proc:
            self.proc.stdout.close()
            self.stderr.close()
        return self.proc.returncode if self.proc else None

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        self.stop()
        if self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    # --- HTTP -------------------------------------------------------------------------------
    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method, path, body=None, headers=None, conn=None):
        """Returns (status, headers dict, parsed JSON or raw text)."""
        own = conn is None
        conn = conn or self.connection()
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        raw = resp.read()
        result_headers = {k.lower(): v for k, v in resp.getheaders()}
        if own:
            conn.close()
        ctype = result_headers.get("content-type", "")
        data = json.loads(raw) if "json" in ctype and raw else raw.decode(errors="replace")
        if self.check_contract:
            CONTRACT.check(method, path, resp.status, ctype, data)
        return resp.status, result_headers, data

    def get(self, path, headers=None, **kw):
        return self.request("GET", path, headers=headers, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def answer(self, method, path, body=None, timeout=60.0):
        """The JSON of a 200, asking again while meterd answers 503/504 (a slow or busy backend on a
        loaded test machine); anything else fails with the status and the body."""
        deadline = time.time() + timeout
        while True:
            status, headers, data = self.request(method, path, body=body)
            if status not in (503, 504) or time.time() > deadline:
                break
            time.sleep(min(float(headers.get("retry-after", "1")), 2.0))
        if status != 200:
            raise AssertionError("%s %s: %d %s" % (method, path, status, data))
        return data

    # --- the store, read directly ---------------------------------------------------------------
    def db(self):
        return sqlite3.connect(os.path.join(self.data_dir, "meterd.db"))

    def stored_ids(self, tenant=None):
        """{id: count} over every monthly partition."""
        with self.db() as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'usage_events_%'")]
            counts = {}
            for t in tables:
                q = "SELECT id FROM %s" % t + (" WHERE tenant_id = ?" if tenant else "")
                for (i,) in db.execute(q, (tenant,) if tenant else ()):
                    counts[i] = counts.get(i, 0) + 1
            return counts


def wait_until(predicate, timeout=10.0, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def main():
    unittest.main(verbosity=2)
