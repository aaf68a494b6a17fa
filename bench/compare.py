#!/usr/bin/env python3
"""Benchmark runner: redrepl server against Debian's redis-server, side by side, same run.

Starts both servers with equivalent settings (no persistence) on free loopback ports, runs
redis-benchmark against each in alternation (A B A B ...), and prints one table of medians
and ratios (redrepl / redis; above 1.0 means redrepl is faster). Then loads 1,000,000 keys
into each and compares resident memory.

`--only deploy` instead times the orchestrator on a three-VM lab (network namespaces with
OpenSSH; needs root): first deploy, unchanged re-deploy, and promote (command start until its
verify passed), for the bundled engine and for Debian's redis-server on the nodes.

Usage: python3 bench/compare.py [--rounds 3] [--requests 200000] [--binary target/release/redrepl]
       [--only throughput|memory|rdb] [--tests lpush,rpush,...] [--kinds list,hash,set,zset]
Throughput options: --clients 50,500,2000 (-c values), --pipelines 1,32 (-P values),
--io-threads N [--do-reads] (both servers started with io-threads N). Latency ratios are
redis-benchmark's p50/p99 columns, redrepl / redis (below 1.0 means redrepl is faster).
(--tests picks redis-benchmark tests; --kinds picks the collections whose memory is measured
and skips the string-key memory run.)
Or: python3 bench/compare.py --only deploy [--rounds 3]   (the lab timings; root)
Or: python3 bench/compare.py --only aof [--rounds 3]   (SET -c 50 and -P 16, appendonly yes, each appendfsync)
Or: python3 bench/compare.py --only replication [--rounds 3] [--repl-keys 1000000] [--lag-rate 20000]
A benchmark, not a test: figures vary with the machine; only the ratios in one run compare.

--only replication: each engine as master with two replicas of the same kind on loopback
(diskless sync, delay 0): full-sync time of --repl-keys keys to both replicas, SET throughput
on the master with the replicas attached (redis-benchmark), replication lag p50/p99 (write's
reply on the master until readable on a replica) under a --lag-rate writes/s load, and time for
a restarted replica (SHUTDOWN, start, load its dump, PSYNC) to be back in sync.
"""
import argparse, csv, io, os, signal, socket, statistics, subprocess, sys, tempfile, time

TESTS = "ping_inline,ping_mbulk,set,get,incr,mset,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,lrange_300,lrange_600"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, proc, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server on port {port} exited with {proc.returncode}")
        try:
            out = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, timeout=2)
            if "PONG" in out.stdout:
                return
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.05)
    sys.exit(f"server on port {port} did not answer PING")


def start(cmd, port, workdir, extra=()):
    args = cmd + ["--port", str(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1",
                  "--dir", workdir, "--logfile", os.path.join(workdir, "server.log")] + list(extra)
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, proc)
    return proc


def bench(port, pipeline, requests, tests=TESTS, clients=50, extra=()):
    """redis-benchmark --csv: {test: (ops/s, p50 ms, p99 ms)}; `extra` adds options (--tls ...)."""
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-c", str(clients), "-n", str(requests), "-P", str(pipeline),
                          "-t", tests, "--csv", *extra], capture_output=True, text=True, check=True).stdout
    rows = {}
    header = None
    for row in csv.reader(io.StringIO(out)):
        if not row:
            continue
        if row[0] == "test":
            header = row
            continue
        col = {name: i for i, name in enumerate(header or [])}
        p50 = float(row[col["p50_latency_ms"]]) if "p50_latency_ms" in col else float("nan")
        p99 = float(row[col["p99_latency_ms"]]) if "p99_latency_ms" in col else float("nan")
        rows[row[0]] = (float(row[1]), p50, p99)
    return rows


def rss(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def resp(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def mixed_dataset(n):
    """n keys: 70% strings, then small hashes, sets, lists and sorted sets (RESP for --pipe)."""
    chunks = []
    for i in range(n):
        kind = i % 10
        if kind < 7:
            chunks.append(resp("SET", f"s:{i}", f"value-{i}"))
        elif kind == 7:
            chunks.append(resp("HSET", f"h:{i}", "a", i, "b", "text", "c", i * 2))
        elif kind == 8:
            chunks.append(resp("SADD", f"t:{i}", i, i + 1, i + 2, "x"))
        elif i % 20 == 9:
            chunks.append(resp("RPUSH", f"l:{i}", "a", "b", i))
        else:
            chunks.append(resp("ZADD", f"z:{i}", 1, "a", 2.5, "b", i, "c"))
    return b"".join(chunks)


def reply_complete(buf):
    """True when buf holds one whole bulk-string (or null/error) reply."""
    if not buf.endswith(b"\r\n"):
        return False
    if buf.startswith(b"$") and not buf.startswith(b"$-1"):
        return buf.count(b"\r\n") >= 2
    return True


def get_latencies(port, seconds_max, still_running):
    """GET round-trip times (ms) on one connection while still_running() holds."""
    s = socket.create_connection(("127.0.0.1", port))
    lat, i = [], 0
    deadline = time.time() + seconds_max
    while still_running() and time.time() < deadline:
        t = time.perf_counter()
        s.sendall(resp("GET", f"s:{(i * 7) % 700000}"))
        buf = b""
        while not reply_complete(buf):
            buf += s.recv(4096)
        lat.append((time.perf_counter() - t) * 1000)
        i += 1
    s.close()
    return lat


def info_field(port, field):
    out = subprocess.run(["redis-cli", "-p", str(port), "info", "persistence"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def key_memory(servers, tmp):
    """RSS after loading ~865,000 distinct small string keys into fresh servers."""
    mem = {}
    for name, cmd in servers.items():
        d = os.path.join(tmp, "keys-" + name)
        os.mkdir(d)
        port = free_port()
        p = start(cmd, port, d)
        subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-r", "1000000", "-n", "2000000",
                        "-P", "32", "-q"], capture_output=True, check=True)
        keys = subprocess.run(["redis-cli", "-p", str(port), "dbsize"], capture_output=True, text=True).stdout.strip()
        mem[name] = (int(keys), rss(p.pid))
        p.send_signal(signal.SIGKILL)
        p.wait()
    (k1, m1), (k2, m2) = mem["redrepl"], mem["redis"]
    print(f"{'RSS after load (keys)':<28}{m1 / 2**20:>12.1f} MiB{m2 / 2**20:>12.1f} MiB{m1 / m2:>8.2f}   ({k1} / {k2} keys)")


COLLECTION_FILL = {
    "list": ["-t", "lpush", "-n", "1000000"],
    "hash": ["-t", "hset", "-r", "100000000", "-n", "1000000"],
    "set": ["-t", "sadd", "-r", "100000000", "-n", "1000000"],
    "zset": ["-t", "zadd", "-r", "100000000", "-n", "1000000"],
}


def collection_memory(servers, tmp, kinds=None):
    """RSS growth for one collection of ~1,000,000 elements of each type, on fresh servers."""
    print(f"{'RSS, 1M-element collection':<28}{'redrepl':>16}{'redis':>16}{'ratio':>8}")
    for kind, args in COLLECTION_FILL.items():
        if kinds and kind not in kinds:
            continue
        grown = {}
        for name, cmd in servers.items():
            d = os.path.join(tmp, f"mem-{kind}-{name}")
            os.mkdir(d)
            port = free_port()
            p = start(cmd, port, d)
            before = rss(p.pid)
            subprocess.run(["redis-benchmark", "-p", str(port), "-P", "32", "-q"] + args, capture_output=True, check=True)
            grown[name] = rss(p.pid) - before
            p.send_signal(signal.SIGKILL)
            p.wait()
        a, b = grown["redrepl"], grown["redis"]
        print(f"{kind:<28}{a / 2**20:>12.1f} MiB{b / 2**20:>12.1f} MiB{a / b:>8.2f}")


def rdb_bench(servers, tmp, nkeys):
    """SAVE time, load-at-start time, file size and GET latency during BGSAVE, both servers."""
    data = mixed_dataset(nkeys)
    rows = {}
    for name, cmd in servers.items():
        d = os.path.join(tmp, "rdb-" + name)
        os.mkdir(d)
        port = free_port()
        p = start(cmd, port, d)
        subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=data, capture_output=True, check=True)
        t = time.perf_counter()
        subprocess.run(["redis-cli", "-p", str(port), "save"], capture_output=True, check=True)
        save_s = time.perf_counter() - t
        size = os.path.getsize(os.path.join(d, "dump.rdb"))
        subprocess.run(["redis-cli", "-p", str(port), "bgsave"], capture_output=True, check=True)
        lat = get_latencies(port, 60, lambda: info_field(port, "rdb_bgsave_in_progress") == "1")
        p.send_signal(signal.SIGKILL)
        p.wait()
        port = free_port()
        t = time.perf_counter()
        p = start(cmd, port, d)
        load_s = time.perf_counter() - t
        p.send_signal(signal.SIGKILL)
        p.wait()
        lat.sort()
        p99 = lat[int(len(lat) * 0.99)] if lat else float("nan")
        rows[name] = (save_s, load_s, size, p99, len(lat))
    print(f"{'RDB (' + str(nkeys) + ' mixed keys)':<28}{'redrepl':>16}{'redis':>16}{'ratio':>8}")
    a, b = rows["redrepl"], rows["redis"]
    print(f"{'SAVE time (s)':<28}{a[0]:>16.3f}{b[0]:>16.3f}{a[0] / b[0]:>8.2f}")
    print(f"{'load at start (s)':<28}{a[1]:>16.3f}{b[1]:>16.3f}{a[1] / b[1]:>8.2f}")
    print(f"{'file size (bytes)':<28}{a[2]:>16,}{b[2]:>16,}{a[2] / b[2]:>8.2f}")
    print(f"{'p99 GET during BGSAVE (ms)':<28}{a[3]:>16.3f}{b[3]:>16.3f}{a[3] / b[3]:>8.2f}   ({a[4]} / {b[4]} GETs)")


# ---------------------------------------------------------------------------------------------
# Replication

REPL_ARGS = ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0", "--repl-backlog-size", "256mb",
             "--save", "3600 1", "--enable-debug-command", "yes"]


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port)] + [str(a) for a in args], capture_output=True,
                          text=True).stdout.strip()


def info(port, section="replication"):
    out = cli(port, "info", section)
    return dict(l.split(":", 1) for l in out.splitlines() if ":" in l and not l.startswith("#"))


def in_sync(master, replica):
    """Link up, no sync in progress, replica's offset reached the master's (read first)."""
    m, r = info(master), info(replica)
    try:
        return (r.get("master_link_status") == "up" and r.get("master_sync_in_progress") == "0"
                and int(r.get("slave_repl_offset", -1)) >= int(m["master_repl_offset"])
                and any(f"port={replica},state=online" in v for k, v in m.items() if k.startswith("slave")))
    except (KeyError, ValueError):
        return False


def wait_sync(master, replicas, timeout=600, poll=0.005):
    deadline = time.time() + timeout
    pending = set(replicas)
    while pending:
        if time.time() > deadline:
            sys.exit(f"replicas {pending} of {master} not in sync within {timeout} s")
        pending = {r for r in pending if not in_sync(master, r)}
        if pending:
            time.sleep(poll)


def log_phase_times(path):
    """(transfer s, load s) of the last full sync, from a replica's log (Redis's wording)."""
    import datetime
    marks = {}
    for line in open(path, errors="replace"):
        for key, needle in (("recv", "MASTER <-> REPLICA sync: receiving"), ("load", "Loading DB in memory"),
                            ("done", "MASTER <-> REPLICA sync: Finished with success")):
            if needle in line:
                try:
                    stamp = " ".join(line.split(" ")[1:5])
                    marks[key] = datetime.datetime.strptime(stamp, "%d %b %Y %H:%M:%S.%f").timestamp()
                except ValueError:
                    pass
    if len(marks) < 3:
        return float("nan"), float("nan")
    return marks["load"] - marks["recv"], marks["done"] - marks["load"]


def string_dataset(n):
    return b"".join(resp("SET", f"key:{i:08d}", f"value-{i:08d}-xxxxxxxxxxxxxxxx") for i in range(n))


def writer_proc(port, rate, stop_evt):
    """~rate SET/s on port: pipelined batches of rate/100 every 10 ms (separate process)."""
    s = socket.create_connection(("127.0.0.1", port))
    per = max(1, rate // 100)
    i, t = 0, time.perf_counter()
    while not stop_evt.is_set():
        batch = b"".join(resp("SET", f"load:{(i + j) % 100000}", i + j) for j in range(per))
        s.sendall(batch)
        got = 0
        while got < per:
            got += s.recv(65536).count(b"\r\n")
        i += per
        t += 0.01
        d = t - time.perf_counter()
        if d > 0:
            time.sleep(d)
    s.close()


def read_line(s, buf):
    while b"\r\n" not in buf:
        buf += s.recv(4096)
    line, rest = buf.split(b"\r\n", 1)
    return line, rest


def lag_samples(master, replica, seconds):
    """Write on the master; from its reply, poll GET on the replica until the value is there."""
    ms = socket.create_connection(("127.0.0.1", master))
    rs = socket.create_connection(("127.0.0.1", replica))
    for so in (ms, rs):
        so.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lags, i, end = [], 0, time.time() + seconds
    mbuf = rbuf = b""
    while time.time() < end:
        key, val = f"lag:{i % 1000}", str(i)
        ms.sendall(resp("SET", key, val))
        _, mbuf = read_line(ms, mbuf)
        t0 = time.perf_counter()
        while True:
            rs.sendall(resp("GET", key))
            line, rbuf = read_line(rs, rbuf)
            if line.startswith(b"$") and line != b"$-1":
                data, rbuf = read_line(rs, rbuf)
                if data == val.encode():
                    break
        lags.append((time.perf_counter() - t0) * 1000)
        i += 1
        time.sleep(0.001)
    ms.close()
    rs.close()
    return lags


def repl_bench(servers, tmp, nkeys, requests, lag_rate, lag_seconds, rounds):
    """Rounds alternate the engines' order; the table shows the medians."""
    data = string_dataset(nkeys)
    runs = {name: [] for name in servers}
    for rnd in range(rounds):
        order = list(servers) if rnd % 2 == 0 else list(reversed(list(servers)))
        for name in order:
            runs[name].append(repl_round(name, servers[name], tmp, rnd, data, requests, lag_rate, lag_seconds))
            print(f"replication round {rnd + 1}/{rounds}: {name} done", file=sys.stderr)
    rows = {}
    for name, rs in runs.items():
        rows[name] = {k: (statistics.median([r[k] for r in rs]) if isinstance(rs[0][k], float)
                          else all(r[k] for r in rs) if isinstance(rs[0][k], bool) else sum(r[k] for r in rs))
                      for k in rs[0]}
    print_repl_table(rows, nkeys)


def repl_round(name, cmd, tmp, rnd, data, requests, lag_rate, lag_seconds):
    import multiprocessing
    procs = []
    try:
        ports = [free_port() for _ in range(3)]
        dirs = [os.path.join(tmp, f"repl-{name}-{rnd}-{i}") for i in range(3)]
        for d, p in zip(dirs, ports):
            os.mkdir(d)
            procs.append(start(cmd, p, d, REPL_ARGS))
        m, r1, r2 = ports
        subprocess.run(["redis-cli", "-p", str(m), "--pipe"], input=data, capture_output=True, check=True)
        # Full sync of nkeys keys to both replicas at once.
        t = time.perf_counter()
        for r in (r1, r2):
            cli(r, "replicaof", "127.0.0.1", m)
        wait_sync(m, [r1, r2])
        full_s = time.perf_counter() - t
        transfer_s, load_s = log_phase_times(os.path.join(dirs[1], "server.log"))
        ok = cli(m, "debug", "digest") == cli(r1, "debug", "digest") == cli(r2, "debug", "digest")
        # SET throughput with two replicas attached.
        rps = []
        for pipeline in (1, 16):
            out = subprocess.run(["redis-benchmark", "-p", str(m), "-c", "50", "-n", str(requests * (5 if pipeline > 1 else 1)),
                                  "-P", str(pipeline), "-t", "set", "-r", "100000", "--csv"],
                                 capture_output=True, text=True, check=True).stdout
            row = [r for r in csv.reader(io.StringIO(out)) if r and r[0] != "test"][0]
            rps.append(float(row[1]))
        wait_sync(m, [r1, r2])
        # Lag under ~lag_rate writes/s.
        stop_evt = multiprocessing.Event()
        wp = multiprocessing.Process(target=writer_proc, args=(m, lag_rate, stop_evt))
        wp.start()
        time.sleep(0.5)
        o0, t0 = int(info(m)["master_repl_offset"]), time.time()
        lags = lag_samples(m, r1, lag_seconds)
        o1, t1 = int(info(m)["master_repl_offset"]), time.time()
        # Restarted replica (SHUTDOWN saves its dump with the replication ID and offset):
        # time from the restart until it is back in sync, writes continuing.
        cli(r2, "shutdown")
        procs[2].wait()
        time.sleep(0.5)
        before = info(m, "stats")
        t = time.perf_counter()
        procs[2] = start(cmd, r2, dirs[2], REPL_ARGS + ["--replicaof", "127.0.0.1", str(m)])
        wait_sync(m, [r2], poll=0.002)
        restart_s = time.perf_counter() - t
        after = info(m, "stats")
        psync = int(after["sync_partial_ok"]) - int(before["sync_partial_ok"])
        stop_evt.set()
        wp.join()
        lags.sort()
        return dict(full=full_s, transfer=transfer_s, load=load_s, ok=ok, set1=rps[0], set16=rps[1],
                    p50=lags[len(lags) // 2], p99=lags[int(len(lags) * 0.99)], n=len(lags),
                    rate=(o1 - o0) / (t1 - t0), restart=restart_s, psync=psync)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()


def print_repl_table(rows, nkeys):
    a, b = rows["redrepl"], rows["redis"]
    print(f"{'replication (2 replicas)':<34}{'redrepl':>14}{'redis':>14}{'ratio':>8}")
    print(f"{'full sync ' + f'{nkeys:,}' + ' keys (s)':<34}{a['full']:>14.3f}{b['full']:>14.3f}{a['full'] / b['full']:>8.2f}"
          f"   (digests equal: {a['ok']} / {b['ok']})")
    print(f"{'  of which RDB transfer (s)':<34}{a['transfer']:>14.3f}{b['transfer']:>14.3f}{a['transfer'] / b['transfer']:>8.2f}")
    print(f"{'  of which replica load (s)':<34}{a['load']:>14.3f}{b['load']:>14.3f}{a['load'] / b['load']:>8.2f}")
    print(f"{'SET ops/s, 2 replicas':<34}{a['set1']:>14,.0f}{b['set1']:>14,.0f}{a['set1'] / b['set1']:>8.2f}")
    print(f"{'SET ops/s -P 16, 2 replicas':<34}{a['set16']:>14,.0f}{b['set16']:>14,.0f}{a['set16'] / b['set16']:>8.2f}")
    print(f"{'lag p50 (ms)':<34}{a['p50']:>14.3f}{b['p50']:>14.3f}{a['p50'] / b['p50']:>8.2f}"
          f"   ({a['n']} / {b['n']} samples)")
    print(f"{'lag p99 (ms)':<34}{a['p99']:>14.3f}{b['p99']:>14.3f}{a['p99'] / b['p99']:>8.2f}"
          f"   (stream {a['rate'] / 1e6:.2f} / {b['rate'] / 1e6:.2f} MB/s)")
    print(f"{'restarted replica in sync (s)':<34}{a['restart']:>14.3f}{b['restart']:>14.3f}{a['restart'] / b['restart']:>8.2f}"
          f"   (partial resyncs: {a['psync']} / {b['psync']})")
    print("ratios: redrepl / redis (times and lags: lower is better; ops/s: higher is better)")


def deploy_bench(binary, rounds):
    """Deploy/promote wall times on the lab (examples/deploy_bench.rs does the lab work)."""
    import json
    out = subprocess.run(
        ["cargo", "run", "--quiet", "--release", "--example", "deploy_bench", "--",
         binary, str(rounds)], stdout=subprocess.PIPE, check=True, text=True).stdout
    print(f"{'engine':<10}{'first deploy':>14}{'re-deploy':>12}{'promote':>10}   (3 lab nodes over SSH, "
          f"median of {rounds})")
    for line in out.splitlines():
        r = json.loads(line)
        print(f"{r['engine']:<10}{r['first_deploy_s']:>13.2f}s{r['unchanged_redeploy_s']:>11.2f}s"
              f"{r['promote_s']:>9.2f}s")


def aof_bench(servers, tmp, requests, rounds):
    """SET throughput with appendonly yes under each appendfsync policy, both engines in the
    same run (fresh servers per policy), as ratios redrepl / redis-server."""
    print(f"{'appendfsync':<12}{'test':<14}{'redrepl ops/s':>14}{'redis ops/s':>14}{'ratio':>7}")
    for policy in ["always", "everysec", "no"]:
        rows = {}
        for r in range(rounds):
            for name in (["redrepl", "redis"] if r % 2 == 0 else ["redis", "redrepl"]):
                d = tempfile.mkdtemp(prefix=f"aof-{name}-", dir=tmp)
                port = free_port()
                proc = start(servers[name], port, d, ["--appendonly", "yes", "--appendfsync", policy])
                try:
                    for pipeline in (1, 16):
                        n = requests * (5 if pipeline > 1 else 1)
                        ops = bench(port, pipeline, n, "set", 50)["SET"][0]
                        rows.setdefault(pipeline, {}).setdefault(name, []).append(ops)
                finally:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
        for pipeline, by in rows.items():
            ours, theirs = statistics.median(by["redrepl"]), statistics.median(by["redis"])
            label = "SET" + (f" -P {pipeline}" if pipeline > 1 else "")
            print(f"{policy:<12}{label:<14}{ours:>14,.0f}{theirs:>14,.0f}{ours / theirs:>7.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--binary", default="target/release/redrepl")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--only", choices=["throughput", "memory", "rdb", "deploy", "replication", "aof"], help="run one part only")
    ap.add_argument("--rdb-keys", type=int, default=1000000)
    ap.add_argument("--clients", default="50", help="redis-benchmark -c values (comma-separated)")
    ap.add_argument("--pipelines", default="1,32", help="redis-benchmark -P values (comma-separated)")
    ap.add_argument("--io-threads", type=int, default=1, help="io-threads for both servers")
    ap.add_argument("--do-reads", action="store_true", help="io-threads-do-reads yes for both servers")
    ap.add_argument("--tests", default=TESTS, help="redis-benchmark tests (comma-separated)")
    ap.add_argument("--kinds", help="collections for the memory part (comma-separated: list,hash,set,zset)")
    ap.add_argument("--repl-keys", type=int, default=1000000)
    ap.add_argument("--lag-rate", type=int, default=20000, help="writes/s during the lag measurement")
    ap.add_argument("--lag-seconds", type=float, default=10)
    a = ap.parse_args()
    kinds = a.kinds.split(",") if a.kinds else None
    if not os.path.exists(a.binary):
        sys.exit(f"{a.binary} not found: run `cargo build --release` first")
    if a.only == "deploy":
        deploy_bench(a.binary, a.rounds)
        return
    tmp = tempfile.mkdtemp(prefix="redrepl-bench-")
    servers = {
        "redrepl": [os.path.abspath(a.binary), "server"],
        "redis": ["redis-server"],
    }
    procs, ports = {}, {}
    try:
        for name, cmd in servers.items():
            ports[name] = free_port()
            d = os.path.join(tmp, name)
            os.mkdir(d)
            extra = ["--io-threads", str(a.io_threads)] if a.io_threads > 1 else []
            if a.do_reads:
                extra += ["--io-threads-do-reads", "yes"]
            procs[name] = start(cmd, ports[name], d, extra)
        if a.only == "rdb":
            rdb_bench(servers, tmp, a.rdb_keys)
            return
        if a.only == "aof":
            aof_bench(servers, tmp, a.requests // 4, a.rounds)
            return
        if a.only == "replication":
            repl_bench(servers, tmp, a.repl_keys, a.requests, a.lag_rate, a.lag_seconds, a.rounds)
            return
        if a.only == "memory":
            if not kinds:
                key_memory(servers, tmp)
            collection_memory(servers, tmp, kinds)
            return
        clients = [int(c) for c in a.clients.split(",")]
        pipelines = [int(p) for p in a.pipelines.split(",")]
        results = {}  # (test, clients, pipeline) -> {server: [(rps, p50, p99)...]}
        for r in range(a.rounds):
            for c in clients:
                for pipeline in pipelines:
                    order = ["redrepl", "redis"] if r % 2 == 0 else ["redis", "redrepl"]
                    for name in order:
                        n = a.requests * (5 if pipeline > 1 else 1)
                        for test, row in bench(ports[name], pipeline, n, a.tests, c).items():
                            results.setdefault((test, c, pipeline), {}).setdefault(name, []).append(row)
            print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
        print(f"{'test':<30}{'redrepl ops/s':>14}{'redis ops/s':>14}{'ratio':>7}"
              f"{'p50 ratio':>11}{'p99 ratio':>11}   (medians of {a.rounds} alternating rounds)")
        for (test, c, pipeline), by in results.items():
            med = lambda rows, i: statistics.median(row[i] for row in rows)
            ours, theirs = by["redrepl"], by["redis"]
            label = test + (f" -c {c}" if c != 50 else "") + (f" -P {pipeline}" if pipeline > 1 else "")
            ratio = lambda i: med(ours, i) / med(theirs, i) if med(theirs, i) > 0 else float("nan")
            print(f"{label:<30}{med(ours, 0):>14,.0f}{med(theirs, 0):>14,.0f}{ratio(0):>7.2f}"
                  f"{ratio(1):>11.2f}{ratio(2):>11.2f}")
        if not a.skip_memory:
            if not kinds:
                key_memory(servers, tmp)
            collection_memory(servers, tmp, kinds)
        if a.only != "throughput":
            rdb_bench(servers, tmp, a.rdb_keys)
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGKILL)
            p.wait()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
