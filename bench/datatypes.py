#!/usr/bin/env python3
"""Issue #13's benchmark: streams, bitmaps, HyperLogLog and geo, redrepl against Debian's
redis-server 7.0.15 in the same run.

    python3 bench/datatypes.py [--binary target/release/redrepl] [--only instr|throughput|memory]
                           [--tests xadd,xreadgroup_xack,...] [--requests 20000] [--rounds 3]

instr:      user-space instructions per call, each server under `valgrind --tool=callgrind
            --instr-atstart=no`; instrumentation is switched on for the measured requests only
            (pipelined 16 deep from one client), so the figure does not depend on machine load.
throughput: ops/s of the same workloads (-c 50, -P 1 and -P 16 via one pipelined driver per
            round), medians of alternating rounds. On a loaded machine only the ratio means
            anything, and even it is noisy.
memory:     RSS growth for 1M XADDs of one small field, and for the same stream with a consumer
            group holding a PEL of 100k entries.

A benchmark, not a test: figures vary with the machine; only ratios from one run compare.
"""
import argparse, os, shutil, socket, statistics, subprocess, sys, tempfile, time

sys.dont_write_bytecode = True  # importing compare.py leaves no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import free_port, wait_ready, rss, resp  # noqa: E402


def start(cmd, port, workdir, wrap=()):
    args = list(wrap) + cmd + ["--port", str(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1",
                               "--dir", workdir, "--logfile", os.path.join(workdir, "server.log")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
    wait_ready(port, proc, timeout=60)
    return proc


def stop(proc):
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def read_replies(sock, n, buf=b""):
    """Reads n complete RESP replies; returns the leftover bytes."""
    def skip(b, i):
        t = b[i:i + 1]
        j = b.find(b"\r\n", i)
        if j < 0:
            return None
        if t in (b"+", b"-", b":", b"_", b",", b"#"):
            return j + 2
        if t == b"$":
            ln = int(b[i + 1:j])
            if ln < 0:
                return j + 2
            end = j + 2 + ln + 2
            return end if end <= len(b) else None
        if t in (b"*", b"%", b"~"):
            ln = int(b[i + 1:j])
            k = j + 2
            for _ in range(max(ln, 0) * (2 if t == b"%" else 1)):
                k = skip(b, k)
                if k is None:
                    return None
            return k
        raise ValueError(f"unexpected reply byte {t!r}")

    done, i = 0, 0
    while done < n:
        k = skip(buf, i) if i < len(buf) else None
        if k is None:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise EOFError("server closed the connection")
            buf = buf[i:] + chunk
            i = 0
            continue
        i = k
        done += 1
    return buf[i:]


def pipeline(port, commands, depth=16):
    """Sends the encoded commands `depth` at a time and reads every reply."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        left = b""
        for at in range(0, len(commands), depth):
            batch = commands[at:at + depth]
            s.sendall(b"".join(batch))
            left = read_replies(s, len(batch), left)


# Each workload: (setup commands, measured commands, calls counted) for n requests.
def wl_xadd(n):
    return [], [resp("XADD", "s", "*", "f", "v") for _ in range(n)], n


def wl_xreadgroup_xack(n):
    setup = [resp("XADD", "s", f"{i}-1", "f", "v") for i in range(1, n + 1)]
    setup.append(resp("XGROUP", "CREATE", "s", "g", "0"))
    cmds = []
    for i in range(1, n + 1):
        cmds.append(resp("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"))
        cmds.append(resp("XACK", "s", "g", f"{i}-1"))
    return setup, cmds, n  # per pair


def wl_xrange(n):
    setup = [resp("XADD", "s", f"{i}-1", "f", "v") for i in range(1, 10001)]
    return setup, [resp("XRANGE", "s", f"{(i * 37) % 10000 + 1}-1", "+", "COUNT", "10") for i in range(n)], n


def wl_setbit(n):
    return [], [resp("SETBIT", "b", (i * 7919) % 1000000, 1) for i in range(n)], n


def wl_bitcount(n):
    setup = [resp("SETBIT", "b", (i * 7919) % 1000000, 1) for i in range(20000)]
    return setup, [resp("BITCOUNT", "b") for _ in range(n)], n


def wl_pfadd(n):
    return [], [resp("PFADD", "h", f"e{i}") for i in range(n)], n


def hll_setup():
    return [resp("PFADD", k, *[f"{k}{i}" for i in range(j, j + 500)]) for k in ("h1", "h2") for j in range(0, 20000, 500)]


def wl_pfcount(n):
    return hll_setup(), [resp("PFCOUNT", "h1") for _ in range(n)], n


def wl_pfcount2(n):
    return hll_setup(), [resp("PFCOUNT", "h1", "h2") for _ in range(n)], n


def wl_pfadd_pfcount(n):
    """PFADD of a new element then PFCOUNT: the cached cardinality is invalid each time."""
    cmds = []
    for i in range(n):
        cmds.append(resp("PFADD", "h1", f"new{i}"))
        cmds.append(resp("PFCOUNT", "h1"))
    return hll_setup(), cmds, n  # per pair


def wl_geosearch(n):
    setup = []
    for j in range(0, 10000, 500):
        args = []
        for i in range(j, j + 500):
            args += [f"{13 + (i % 100) * 0.05:.4f}", f"{37 + (i // 100) * 0.05:.4f}", f"m{i}"]
        setup.append(resp("GEOADD", "g", *args))
    return setup, [resp("GEOSEARCH", "g", "FROMLONLAT", "15", "38", "BYRADIUS", "20", "km", "ASC", "COUNT", "10")
                   for _ in range(n)], n


WORKLOADS = {
    "xadd": wl_xadd,
    "xreadgroup_xack": wl_xreadgroup_xack,
    "xrange": wl_xrange,
    "setbit": wl_setbit,
    "bitcount": wl_bitcount,
    "pfadd": wl_pfadd,
    "pfcount": wl_pfcount,
    "pfcount2": wl_pfcount2,
    "pfadd_pfcount": wl_pfadd_pfcount,
    "geosearch": wl_geosearch,
}


def callgrind_total(outfile):
    """Total Ir of a callgrind output file."""
    with open(outfile) as f:
        for line in f:
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {outfile}")


def instr(servers, tmp, tests, n):
    rows = {}
    for test in tests:
        setup, cmds, calls = WORKLOADS[test](n)
        for name, cmd in servers.items():
            d = tempfile.mkdtemp(dir=tmp)
            out = os.path.join(d, "cg.out")
            port = free_port()
            proc = start(cmd, port, d, ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                                        f"--callgrind-out-file={out}"])
            try:
                pipeline(port, setup, 64)
                subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
                pipeline(port, cmds, 16)
                subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
            finally:
                stop(proc)
            rows.setdefault(test, {})[name] = callgrind_total(out) / calls
    print(f"{'instructions per call':<24}{'redrepl':>12}{'redis':>12}{'ratio':>8}")
    for test, by in rows.items():
        print(f"{test:<24}{by['redrepl']:>12.0f}{by['redis']:>12.0f}{by['redrepl'] / by['redis']:>8.2f}")
    return rows


def timed(port, cmds, depth):
    t = time.perf_counter()
    pipeline(port, cmds, depth)
    return len(cmds) / (time.perf_counter() - t)


def throughput(servers, tmp, tests, n, rounds):
    """One client, pipelined 16 deep (the driver is Python: it bounds both servers alike)."""
    print(f"{'ops/s, -P 16, 1 client':<24}{'redrepl':>12}{'redis':>12}{'ratio':>8}")
    for test in tests:
        by = {name: [] for name in servers}
        for r in range(rounds):
            order = list(servers) if r % 2 == 0 else list(reversed(list(servers)))
            for name in order:
                setup, cmds, _ = WORKLOADS[test](n)
                d = tempfile.mkdtemp(dir=tmp)
                port = free_port()
                proc = start(servers[name], port, d)
                try:
                    pipeline(port, setup, 64)
                    by[name].append(timed(port, cmds, 16))
                finally:
                    stop(proc)
        ours, theirs = statistics.median(by["redrepl"]), statistics.median(by["redis"])
        print(f"{test:<24}{ours:>12.0f}{theirs:>12.0f}{ours / theirs:>8.2f}")


def memory(servers, tmp, entries, pel):
    print(f"{'RSS growth, MB':<40}{'redrepl':>10}{'redis':>10}{'ratio':>8}")
    res = {}
    for name, cmd in servers.items():
        d = tempfile.mkdtemp(dir=tmp)
        port = free_port()
        proc = start(cmd, port, d)
        try:
            base = rss(proc.pid)
            pipeline(port, [resp("XADD", "s", "*", "f", i % 1000) for i in range(entries)], 256)
            streams = rss(proc.pid)
            pipeline(port, [resp("XGROUP", "CREATE", "s", "g", "0")]
                     + [resp("XREADGROUP", "GROUP", "g", f"c{i % 10}", "COUNT", "100", "STREAMS", "s", ">")
                        for i in range(pel // 100)], 64)
            groups = rss(proc.pid)
            res[name] = ((streams - base) / 1e6, (groups - base) / 1e6)
        finally:
            stop(proc)
    for i, label in enumerate([f"{entries} stream entries", f"  + group with a PEL of {pel}"]):
        ours, theirs = res["redrepl"][i], res["redis"][i]
        print(f"{label:<40}{ours:>10.1f}{theirs:>10.1f}{ours / theirs:>8.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default="target/release/redrepl")
    ap.add_argument("--only", choices=["instr", "throughput", "memory"])
    ap.add_argument("--tests", default=",".join(WORKLOADS))
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--entries", type=int, default=1000000)
    ap.add_argument("--pel", type=int, default=100000)
    a = ap.parse_args()
    tests = [t for t in a.tests.split(",") if t]
    for t in tests:
        if t not in WORKLOADS:
            sys.exit(f"unknown test {t}; known: {', '.join(WORKLOADS)}")
    servers = {"redrepl": [os.path.abspath(a.binary), "server"], "redis": ["redis-server"]}
    tmp = tempfile.mkdtemp(prefix="redrepl-types-")
    try:
        if a.only in (None, "instr"):
            instr(servers, tmp, tests, a.requests)
        if a.only in (None, "throughput"):
            throughput(servers, tmp, tests, a.requests, a.rounds)
        if a.only in (None, "memory"):
            memory(servers, tmp, a.entries, a.pel)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
