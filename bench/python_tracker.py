"""track() latency of meterd's Python UsageTracker, in the calling thread, while its own thread
ships to a real meterd (URL as the first argument, from bench/tracker.sh).

Like bench/tracker_bench.cc: each producer thread tracks at a fixed rate and spins between calls
(a service doing a request's work), so meterd keeps up. The reference, called alternately with
track() in the same loop, only appends a tuple to a deque: the floor of any Python call that
hands an event over, under the same noise. Prints p50, p99, p99.9 and the largest call in microseconds."""
import collections
import decimal
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../clients/python"))
import meterd  # noqa: E402


def paced(calls, rate, n, out):
    """Calls each of `calls` once per tick, `rate` ticks a second, timing each call; the calls
    alternate, so the machine's noise falls on all of them alike."""
    period = 1.0 / rate
    next_at = time.perf_counter()
    samples = [[] for _ in calls]
    for i in range(n):
        tenant = "tenant_%d" % (i % 50)
        for call, into in zip(calls, samples):
            while time.perf_counter() < next_at:
                pass
            start = time.perf_counter_ns()
            call(tenant, "input_tokens", 1500, {"model": "gpt-4"})
            into.append(time.perf_counter_ns() - start)
            next_at += period / len(calls)
    for mine, all_ in zip(samples, out):
        all_.extend(mine)


def percentiles(samples):
    samples.sort()
    pct = lambda p: samples[int(p * (len(samples) - 1))] / 1000  # noqa: E731
    return pct(0.5), pct(0.99), pct(0.999), samples[-1] / 1000


def run(calls, threads, rate, n):
    out = [[] for _ in calls]
    workers = [threading.Thread(target=paced, args=(calls, rate, n, out)) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return [percentiles(s) for s in out]


def main():
    url = sys.argv[1]
    seconds = float(os.environ.get("SECONDS_PER_CASE", "4"))
    floor = collections.deque()

    def reference(tenant, event_type, quantity, metadata):
        floor.append((tenant, event_type, quantity, metadata))

    spill = os.path.join(tempfile.mkdtemp(prefix="meterd-pybench-"), "spill.jsonl")
    print("%-10s %-8s %-7s %9s %9s %9s %9s" % ("call", "threads", "rate/s", "p50_us", "p99_us", "p999_us", "max_us"))
    for threads, rate in ((1, 1000), (1, 10000), (2, 10000)):
        n = int(rate * seconds)
        tracker = meterd.UsageTracker(url, batch_size=1000, flush_interval=0.2, spill_path=spill, capacity=10**7)
        figures = run((reference, tracker.track), threads, rate, n)
        for name, (p50, p99, p999, worst) in zip(("reference", "track"), figures):
            print("%-10s %-8d %-7d %9.2f %9.2f %9.2f %9.2f" % (name, threads, rate, p50, p99, p999, worst))
        floor.clear()
        tracker.flush()
        stats = tracker.stats
        tracker.close()
        assert stats.sent == threads * n and stats.spilled == 0, stats
    print("every tracked event acknowledged by meterd (%s)" % decimal.Decimal(stats.sent))


if __name__ == "__main__":
    main()
