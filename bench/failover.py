#!/usr/bin/python3
"""Failover timeline of three sentinels: redrepl's bundled sentinel against Debian's
redis-sentinel 7.0 with equal settings, median of N runs each (default 5).

Usage: /usr/bin/python3 bench/failover.py [--redrepl target/release/redrepl] [--runs 5]
           [--down-after 1000]

Needs redis-py (Debian's python3-redis, hence /usr/bin/python3). Each run starts a master
and two replicas (Debian's redis-server for both sentinel engines, so only the sentinels
differ) and three sentinels (down-after-milliseconds as given, failover-timeout 10000,
parallel-syncs 1, quorum 2) on free loopback ports in a temporary folder, waits until every
sentinel knows both replicas and the two other sentinels, then kill -9 of the master. Times
from the kill: the first +sdown and +odown of the master (any sentinel), +elected-leader,
+switch-master, and the first successful SET through redis-py's `Sentinel.master_for()`
(the client's unavailability window). Every process is killed by its pid at the end of a run.

The timeline is dominated by the sentinels' timers (PING every 1 s, down-after, a random
start delay of up to 1 s, INFO every 1 s during a failover), not by CPU; still, on a shared
machine read it as indicative.
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time

import redis
from redis.sentinel import Sentinel

EVENTS = ["+sdown", "+odown", "+elected-leader", "+switch-master"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(what, timeout, f):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if f():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


class Run:
    """One cluster: servers and sentinels, killed on close()."""

    def __init__(self, engine, redrepl, down_after):
        self.tmp = tempfile.mkdtemp(prefix="redrepl-failover-bench-")
        self.procs = []
        self.ports = [free_port() for _ in range(3)]
        self.sports = [free_port() for _ in range(3)]
        for i, port in enumerate(self.ports):
            args = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                    "--dir", self.tmp, "--dbfilename", "dump%d.rdb" % port,
                    "--repl-diskless-sync-delay", "0", "--bind", "127.0.0.1"]
            if i > 0:
                args += ["--replicaof", "127.0.0.1", str(self.ports[0])]
            self.procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL))
        for port in self.ports:
            wait("server %d" % port, 10, lambda p=port: redis.Redis(port=p).ping())
        for sport in self.sports:
            conf = os.path.join(self.tmp, "sentinel-%d.conf" % sport)
            with open(conf, "w") as f:
                f.write(
                    "port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor m 127.0.0.1 %d 2\n"
                    "sentinel down-after-milliseconds m %d\nsentinel failover-timeout m 10000\n"
                    "sentinel parallel-syncs m 1\n"
                    % (sport, self.tmp, self.ports[0], down_after))
            cmd = ([redrepl, "sentinel", conf] if engine == "bundled"
                   else ["redis-sentinel", conf])
            self.procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL))

        def converged():
            for sport in self.sports:
                m = redis.Redis(port=sport).sentinel_master("m")
                if m["num-slaves"] < 2 or m["num-other-sentinels"] < 2:
                    return False
            return True

        wait("the sentinels to see the cluster", 30, converged)

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def one_run(engine, redrepl, down_after):
    r = Run(engine, redrepl, down_after)
    try:
        seen = {}
        lock = threading.Lock()
        stop = threading.Event()

        def listen(sport):
            ps = redis.Redis(port=sport).pubsub()
            ps.psubscribe("*")
            while not stop.is_set():
                msg = ps.get_message(timeout=0.1)
                if not msg or msg["type"] != "pmessage":
                    continue
                ch = msg["channel"].decode()
                data = msg["data"].decode()
                if ch in EVENTS and (ch != "+sdown" or data.startswith("master")):
                    with lock:
                        seen.setdefault(ch, time.time())
            ps.close()

        threads = [threading.Thread(target=listen, args=(s,)) for s in r.sports]
        for t in threads:
            t.start()
        time.sleep(0.3)  # the subscriptions are in place
        sentinel = Sentinel([("127.0.0.1", s) for s in r.sports], socket_timeout=0.3)
        client = sentinel.master_for("m", socket_timeout=0.3)
        client.set("k", "before")
        killed = time.time()
        r.procs[0].send_signal(signal.SIGKILL)
        first_write = None
        while time.time() - killed < 60:
            try:
                client.set("k", "after")
                if sentinel.discover_master("m") != ("127.0.0.1", r.ports[0]):
                    first_write = time.time()
                    break
            except (redis.RedisError, OSError):
                pass
            time.sleep(0.02)
        wait("+switch-master", 30, lambda: "+switch-master" in seen)
        stop.set()
        for t in threads:
            t.join()
        out = {e: seen[e] - killed for e in EVENTS if e in seen}
        if first_write is not None:
            out["first write"] = first_write - killed
        return out
    finally:
        r.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redrepl", default="target/release/redrepl")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--down-after", type=int, default=1000)
    a = ap.parse_args()
    columns = EVENTS + ["first write"]
    results = {}
    for engine in ["redis", "bundled"]:
        rows = []
        for i in range(a.runs):
            row = one_run(engine, os.path.abspath(a.redrepl), a.down_after)
            print("%-8s run %d: %s" % (engine, i + 1, "  ".join(
                "%s %.2fs" % (c, row[c]) for c in columns if c in row)), flush=True)
            rows.append(row)
        results[engine] = {c: statistics.median(r[c] for r in rows if c in r)
                           for c in columns if any(c in r for r in rows)}
    print("\nmedian of %d runs, seconds after kill -9 of the master (down-after %d ms):"
          % (a.runs, a.down_after))
    print("| event | redis-sentinel 7.0 | redrepl sentinel | ratio |")
    print("|---|---:|---:|---:|")
    for c in columns:
        rs, rr = results["redis"].get(c), results["bundled"].get(c)
        if rs is None or rr is None:
            continue
        print("| %s | %.2f | %.2f | %.2f |" % (c, rs, rr, rr / rs if rs else 0))


if __name__ == "__main__":
    main()
