"""A private ClickHouse cluster for end-to-end tests (scripts/clickhouse-test-cluster): ZooKeeper
and four servers, 2 shards x 2 replicas, cluster `meterd_test`. Node i (1..4) is replica
(i+1)%2+1 of shard (i+1)//2; its HTTP port is port + 10*i."""
import urllib.request

from private_server import PrivateServer

CLUSTER = "meterd_test"


class ClickHouseCluster(PrivateServer):
    script = "clickhouse-test-cluster"
    name = "ClickHouse cluster"

    def url(self, node=1):
        return "http://127.0.0.1:%d" % (self.port + 10 * node)

    def query(self, sql, node=1):
        req = urllib.request.Request(self.url(node) + "/", data=sql.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.read().decode()

    def ids(self, db, node=1):
        """{id: count} over the whole cluster (the Distributed table)."""
        counts = {}
        for line in self.query("SELECT id, count() FROM %s.usage_events GROUP BY id" % db, node).splitlines():
            i, n = line.split("\t")
            counts[i] = int(n)
        return counts

    def kill_node(self, node):
        self.run("stop-node", str(node))

    def start_node(self, node):
        self.run("start-node", str(node))
