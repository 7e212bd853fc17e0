"""The spill file: batches meterd could not take, as /v1/events NDJSON (one event with its
id per line), shipped once meterd is back. Several processes may share one file (the workers
of one app): appends and shipping take an exclusive lock on it (fcntl.flock, where the system
has it), and a shipped file is emptied only after every line was acknowledged, so a crash
mid-ship sends some lines twice, which meterd stores once, by id."""
import os
import threading

try:
    import fcntl
except ImportError:  # not on Windows: the process-wide lock alone
    fcntl = None


class SpillFile:
    def __init__(self, path):
        self.path = os.path.abspath(path)
        self._lock = threading.Lock()

    def _locked(self, mode):
        f = open(self.path, mode)
        if fcntl is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        return f

    def append(self, ndjson_lines):
        """Appends whole lines (text ending in a newline) in one write, and flushes them to the OS."""
        with self._lock, self._locked("a") as f:
            f.write(ndjson_lines)
            f.flush()

    def pending(self):
        try:
            return os.path.getsize(self.path) > 0
        except OSError:
            return False

    def ship(self, send, batch_size):
        """Sends the file's lines in batches with send(text) -> None (raising to stop); empties the
        file when all went. Returns the number of lines sent."""
        if not self.pending():
            return 0
        sent = 0
        with self._lock, self._locked("r+") as f:
            batch = []
            for line in f:
                if not line.endswith("\n"):  # a torn last line (the writer died): skip it
                    break
                batch.append(line)
                if len(batch) == batch_size:
                    send("".join(batch))
                    sent += len(batch)
                    batch = []
            if batch:
                send("".join(batch))
                sent += len(batch)
            f.seek(0)
            f.truncate()
        return sent
