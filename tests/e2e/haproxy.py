"""Debian's haproxy in front of meterd nodes, as a load balancer does it in production: round
robin, /health checked every 200 ms, a node taken out after two failed checks, a request whose
connection failed retried on another node."""
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

from private_server import free_port


class HAProxy:
    def __init__(self, nodes):
        self.dir = tempfile.mkdtemp(prefix="meterd-haproxy-")
        self.port = free_port()
        servers = "\n".join("  server n%d 127.0.0.1:%d check inter 200 fall 2 rise 2" % (i, n.port)
                            for i, n in enumerate(nodes))
        config = os.path.join(self.dir, "haproxy.cfg")
        with open(config, "w") as f:
            f.write("""global
  maxconn 1000
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  retries 3
  option redispatch
  retry-on conn-failure empty-response
frontend meterd
  bind 127.0.0.1:%d
  default_backend nodes
backend nodes
  balance roundrobin
  option httpchk GET /health
%s
""" % (self.port, servers))
        self.log = open(os.path.join(self.dir, "haproxy.log"), "wb")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", config], stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/health" % self.port, timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("haproxy did not start; see %s/haproxy.log" % self.dir)

    def cleanup(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
