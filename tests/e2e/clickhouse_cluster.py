"""A private ClickHouse cluster for end-to-end tests (scripts/clickhouse-test-cluster): ZooKeeper
and four servers, 2 shards x 2 replicas, cluster `meterd_test`. Node i (1..4) is replica
(i+1)%2+1 of shard (i+1)//2; its HTTP port is port + 10*i."""
import random
import socket
import urllib.request

from private_server import PrivateServer

CLUSTER = "meterd_test"


def free_base_port():
    """A base port whose 41 ports (ZooKeeper, 4 x HTTP, native, replication) are free, below the
    ephemeral range: a port of the system's outgoing connections could take a killed node's port
    before it restarts."""
    low, _ = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    for _ in range(100):
        base = random.randrange(20000, low - 50)
        try:
            for port in [base] + [base + 10 * i + k for i in range(1, 5) for k in range(3)]:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports for the ClickHouse cluster")


class ClickHouseCluster(PrivateServer):
    script = "clickhouse-test-cluster"
    name = "ClickHouse cluster"

    @staticmethod
    def pick_port():
        return free_base_port()

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
