"""A private PostgreSQL server for end-to-end tests (scripts/postgres-test-server)."""
import glob
import subprocess

from private_server import PrivateServer

PSQL = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1]


class Postgres(PrivateServer):
    script = "postgres-test-server"
    name = "PostgreSQL"

    def __init__(self, standby_of=None):
        """With standby_of (a started Postgres), a streaming standby of it."""
        super().__init__([str(standby_of.port)] if standby_of else [])

    @property
    def url(self):
        return "postgresql://meterd@127.0.0.1:%d/meterd" % self.port

    def query(self, sql):
        """Rows of text, tab-separated columns."""
        out = subprocess.run([PSQL, self.url, "-qtA", "-F", "\t", "-c", sql], check=True,
                             capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def ids(self):
        """{id: count} of the raw events."""
        return {i: int(n) for i, n in self.query("SELECT id, count(*) FROM usage_events GROUP BY id")}
