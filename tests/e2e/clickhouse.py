"""A private ClickHouse server for end-to-end tests (scripts/clickhouse-test-server)."""
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.request

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts/clickhouse-test-server")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ClickHouse:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="meterd-ch-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.started_once = False

    def start(self):
        """Starts it; on a fresh instance, retries on other ports if its port was taken meanwhile."""
        for attempt in range(5):
            if subprocess.run([SCRIPT, "start", self.dir, str(self.port)], stdout=subprocess.DEVNULL).returncode == 0:
                self.started_once = True
                return self
            if self.started_once:
                break  # a restart must keep its address
            self.port = free_port()
            self.url = "http://127.0.0.1:%d" % self.port
        raise RuntimeError("could not start ClickHouse; see %s/log" % self.dir)

    def stop(self):
        subprocess.run([SCRIPT, "stop", self.dir], check=True)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, sql):
        req = urllib.request.Request(self.url + "/", data=sql.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read().decode()

    def ids(self, db="metering"):
        """{id: count} of the raw table."""
        counts = {}
        for line in self.query("SELECT id, count() FROM %s.usage_events GROUP BY id" % db).splitlines():
            i, n = line.split("\t")
            counts[i] = int(n)
        return counts
