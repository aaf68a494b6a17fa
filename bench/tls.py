#!/usr/bin/env python3
"""Full sync over TLS: redrepl master -> redrepl replica against redis-server -> redis-server,
same dataset, same run, rounds alternating.

Each server has a plain port (for loading and polling) and a TLS port; the replica runs with
`tls-replication yes` and is pointed at the master's TLS port (REPLICAOF), so the RDB stream
crosses TLS. The time is from REPLICAOF until the replica reports its link up, no sync in
progress and its offset at the master's; the datasets' DEBUG DIGESTs are compared after.
`--plain` also times the same sync without TLS, for the TLS share of the time.

`--throughput` instead runs redis-benchmark --tls SET/GET (-c 50, -P 1 and -P 16) against
each server's TLS port (clients not asked for a certificate), medians of alternating rounds.

Usage: python3 bench/tls.py [--keys 1000000] [--rounds 3] [--plain] [--binary target/release/redrepl]
       python3 bench/tls.py --throughput [--requests 100000] [--rounds 3]
For instructions per request over TLS: python3 bench/instructions.py --tls.
A benchmark, not a test: only the ratios of one run compare.
"""
import argparse, os, shutil, signal, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import bench, cli, free_port, info, string_dataset, wait_ready  # noqa: E402
from instructions import make_certs  # noqa: E402


def start(cmd, port, tls_port, workdir, certs, extra=()):
    args = cmd + ["--port", str(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1",
                  "--dir", workdir, "--logfile", os.path.join(workdir, "server.log"),
                  "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
                  "--enable-debug-command", "yes"]
    if tls_port:
        args += ["--tls-port", str(tls_port), "--tls-cert-file", certs["cert"], "--tls-key-file", certs["key"],
                 "--tls-ca-cert-file", certs["ca"], "--tls-auth-clients", "no", "--tls-replication", "yes"]
    proc = subprocess.Popen(args + list(extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, proc)
    return proc


def synced(master, replica):
    m, r = info(master), info(replica)
    try:
        return (r.get("master_link_status") == "up" and r.get("master_sync_in_progress") == "0"
                and int(r.get("slave_repl_offset", -1)) >= int(m["master_repl_offset"]))
    except (KeyError, ValueError):
        return False


def full_sync(cmd, tmp, tag, data, certs, tls):
    """Seconds from REPLICAOF until the replica is in sync; digests equal."""
    procs = []
    try:
        ports = [free_port() for _ in range(4)]
        dirs = [tempfile.mkdtemp(prefix=f"{tag}-", dir=tmp) for _ in range(2)]
        for i in range(2):
            procs.append(start(cmd, ports[i], ports[2 + i] if tls else 0, dirs[i], certs))
        m, r = ports[0], ports[1]
        subprocess.run(["redis-cli", "-p", str(m), "--pipe"], input=data, capture_output=True, check=True)
        target = ports[2] if tls else m
        t = time.perf_counter()
        cli(r, "replicaof", "127.0.0.1", target)
        deadline = time.time() + 600
        while not synced(m, r):
            if time.time() > deadline:
                sys.exit(f"{tag}: no sync within 600 s")
            time.sleep(0.005)
        took = time.perf_counter() - t
        same = cli(m, "debug", "digest") == cli(r, "debug", "digest")
        return took, same
    finally:
        for p in procs:
            p.send_signal(signal.SIGKILL)
            p.wait()


def throughput(cmds, tmp, certs, rounds, requests):
    """ops/s of redis-benchmark --tls SET/GET against each server's TLS port."""
    tls_args = ["--tls", "--cacert", certs["ca"]]
    runs = {}
    for rnd in range(rounds):
        order = list(cmds) if rnd % 2 == 0 else list(reversed(cmds))
        for name in order:
            port, tls_port = free_port(), free_port()
            proc = start(cmds[name], port, tls_port, tempfile.mkdtemp(prefix=f"{name}-", dir=tmp), certs)
            try:
                for pipeline in (1, 16):
                    for test, (ops, _, _) in bench(tls_port, pipeline, requests, "set,get", 50, tls_args).items():
                        runs.setdefault((test, pipeline, name), []).append(ops)
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        print(f"round {rnd + 1}/{rounds} done", flush=True)
    print(f"\nTLS, -c 50, medians of {rounds}   {'redrepl':>12} {'redis':>12}  ratio (ops/s, redrepl/redis)")
    for pipeline in (1, 16):
        for test in ("SET", "GET"):
            ours, theirs = (statistics.median(runs[(test, pipeline, n)]) for n in ("redrepl", "redis"))
            print(f"  {test} -P {pipeline:<2}{'':18} {ours:12,.0f} {theirs:12,.0f}  {ours / theirs:5.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--binary", default="target/release/redrepl")
    ap.add_argument("--plain", action="store_true", help="also time the sync without TLS")
    ap.add_argument("--throughput", action="store_true", help="redis-benchmark --tls SET/GET instead of the sync")
    ap.add_argument("--requests", type=int, default=100000)
    a = ap.parse_args()
    cmds = {"redrepl": [os.path.abspath(a.binary), "server"], "redis": ["redis-server"]}
    tmp = tempfile.mkdtemp(prefix="redrepl-tls-")
    try:
        certs = make_certs(tmp)
        if a.throughput:
            throughput(cmds, tmp, certs, a.rounds, a.requests)
            return
        data = string_dataset(a.keys)
        modes = [True, False] if a.plain else [True]
        times = {(n, tls): [] for n in cmds for tls in modes}
        for rnd in range(a.rounds):
            order = list(cmds) if rnd % 2 == 0 else list(reversed(cmds))
            for tls in modes:
                for name in order:
                    took, same = full_sync(cmds[name], tmp, f"{name}-{rnd}", data, certs, tls)
                    times[(name, tls)].append(took)
                    print(f"round {rnd} {name:8} {'tls' if tls else 'plain':5} {took:8.3f} s  digests equal: {same}",
                          flush=True)
        print(f"\nfull sync of {a.keys:,} keys, medians of {a.rounds}   redrepl     redis   ratio (time, redrepl/redis)")
        for tls in modes:
            ours, theirs = (statistics.median(times[(n, tls)]) for n in ("redrepl", "redis"))
            print(f"  {'over TLS' if tls else 'plain':44} {ours:8.3f}  {theirs:8.3f}   {ours / theirs:5.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
