"""A private ClickHouse server for end-to-end tests (scripts/clickhouse-test-server)."""
import urllib.request

from private_server import PrivateServer


class ClickHouse(PrivateServer):
    script = "clickhouse-test-server"
    name = "ClickHouse"

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

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
