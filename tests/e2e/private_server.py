"""A server a test starts with one of scripts/*-test-server: loopback only, a free port, its own
temporary folder, stopped and removed by cleanup()."""
import os
import shutil
import socket
import subprocess
import tempfile

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateServer:
    script = None  # e.g. "clickhouse-test-server"
    name = None    # for messages

    def __init__(self, start_args=()):
        self.dir = tempfile.mkdtemp(prefix="meterd-%s-" % self.script.split("-")[0])
        self.port = self.pick_port()
        self.start_args = list(start_args)  # after DIR PORT
        self.started_once = False

    def start(self):
        """Starts it; on a fresh instance, retries on other ports if its port was taken meanwhile."""
        for _ in range(5):
            command = [os.path.join(SCRIPTS, self.script), "start", self.dir, str(self.port)] + self.start_args
            if subprocess.run(command, stdout=subprocess.DEVNULL).returncode == 0:
                self.started_once = True
                return self
            if self.started_once:
                break  # a restart must keep its address
            self.port = self.pick_port()
        raise RuntimeError("could not start %s; see its logs in %s" % (self.name, self.dir))

    @staticmethod
    def pick_port():
        return free_port()

    def run(self, command, *args):
        """Another command of the script, on this server's folder."""
        subprocess.run([os.path.join(SCRIPTS, self.script), command, self.dir] + list(args), check=True,
                       stdout=subprocess.DEVNULL)

    def stop(self):
        self.run("stop")

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
