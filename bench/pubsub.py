#!/usr/bin/env python3
"""PUBLISH throughput with 1, 10 and 100 subscribers: messages delivered per second,
redrepl against redis-server in the same run, as ratios.

Usage: bench/pubsub.py [--redrepl target/release/redrepl] [--messages 20000] [--size 64]
       bench/pubsub.py --callgrind [--messages 2000]
       bench/pubsub.py --strace [--messages 20000]

Each run starts both servers on free loopback ports (no persistence), connects N
subscribers to one channel, pipelines M PUBLISHes (batches of 100) from one client and
waits until every subscriber received all M messages; delivered/s = N*M / elapsed.
Subscribers are read by one asyncio loop (counting bytes, no parsing), so the client side
costs the same for both servers. Compare ratios, not absolute figures: the machine may be
shared.

--callgrind measures what does not depend on the load: instructions the server executes per
delivered message. Each server runs under `valgrind --tool=callgrind` twice per subscriber
count, once publishing M and once 2*M messages, and (Ir(2M) - Ir(M)) / (N * M) is the cost
of one delivery with start-up, connections and shutdown cancelled out.

--strace counts the server's system calls per delivered message (strace -c -f attached
for one run of M messages): writes to subscribers, reads, epoll waits, futex wake-ups.
"""

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def start(cmd, port, tmp, tries=200):
    p = subprocess.Popen(
        cmd + ["--port", str(port), "--save", "", "--dir", tmp],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(tries):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit(f"server on {port} did not start")


async def run(port, subscribers, messages, size):
    payload = b"x" * size
    frame = resp(b"message", b"bench", payload)
    subs = []
    for _ in range(subscribers):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(resp("SUBSCRIBE", "bench"))
        await w.drain()
        # *3 $9 subscribe $5 bench :1 — read up to the integer line.
        line = b""
        while not line.startswith(b":"):
            line = await r.readline()
        subs.append((r, w))
    expected = messages * len(frame)

    async def drain(r):
        got = 0
        while got < expected:
            chunk = await r.read(1 << 16)
            if not chunk:
                raise SystemExit("subscriber closed")
            got += len(chunk)

    pr, pw = await asyncio.open_connection("127.0.0.1", port)
    batch = resp("PUBLISH", "bench", payload) * 100
    reply_len = len(b":%d\r\n" % subscribers) * 100

    async def publish():
        for _ in range(messages // 100):
            pw.write(batch)
            await pw.drain()
            await pr.readexactly(reply_len)

    t0 = time.perf_counter()
    await asyncio.gather(publish(), *(drain(r) for r, _ in subs))
    elapsed = time.perf_counter() - t0
    for _, w in subs:
        w.close()
    pw.close()
    return subscribers * (messages // 100 * 100) / elapsed


def callgrind_ir(cmd, subscribers, messages, size, tmp):
    """Total instructions (Ir) of one server run under callgrind: start, one benchmark
    run of `messages` PUBLISHes to `subscribers`, SHUTDOWN NOSAVE."""
    out = os.path.join(tmp, "callgrind.out")
    port = free_port()
    vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    p = start(vg + cmd, port, tmp, tries=2400)
    try:
        asyncio.run(run(port, subscribers, messages, size))
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(resp("SHUTDOWN", "NOSAVE"))
            s.recv(100)
        p.wait(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    with open(out) as f:
        total = next(l for l in f if l.startswith(("summary:", "totals:")))
    os.remove(out)
    return int(total.split()[1])


def callgrind(a, tmp):
    servers = {"redrepl": [a.redrepl, "server"], "redis": [a.redis]}
    m = a.messages
    print(f"{'subscribers':>11} {'redrepl Ir/msg':>15} {'redis Ir/msg':>13} {'redis/ours':>10}")
    for n in (1, 10, 100):
        per = {}
        for name, cmd in servers.items():
            one = callgrind_ir(cmd, n, m, a.size, tmp)
            two = callgrind_ir(cmd, n, 2 * m, a.size, tmp)
            per[name] = (two - one) / (n * m)
        ratio = per["redis"] / per["redrepl"]
        print(f"{n:>11} {per['redrepl']:>15,.0f} {per['redis']:>13,.0f} {ratio:>9.2f}x")


def strace_counts(cmd, subscribers, messages, size, tmp):
    """{syscall: calls} of one server over one benchmark run (strace -c -f attached after
    start-up, detached after the run)."""
    port = free_port()
    p = start(cmd, port, tmp)
    out = os.path.join(tmp, "strace.txt")
    try:
        tracer = subprocess.Popen(["strace", "-c", "-f", "-o", out, "-p", str(p.pid)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        asyncio.run(run(port, subscribers, messages, size))
        tracer.send_signal(signal.SIGINT)
        tracer.wait()
    finally:
        p.kill()
        p.wait()
    counts = {}
    with open(out) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                counts[parts[-1]] = int(parts[3])
    os.remove(out)
    return counts


def strace(a, tmp):
    servers = {"redrepl": [a.redrepl, "server"], "redis": [a.redis]}
    print("system calls per delivered message (most frequent first)")
    for n in (1, 10, 100):
        for name, cmd in servers.items():
            counts = strace_counts(cmd, n, a.messages, a.size, tmp)
            delivered = n * a.messages
            total = sum(counts.values()) / delivered
            rows = sorted(((c / delivered, k) for k, c in counts.items()), reverse=True)
            detail = ", ".join(f"{k} {v:.4f}" for v, k in rows if v >= 0.0005)
            print(f"{n:>4} subscribers {name:8} total {total:.4f}: {detail}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redrepl", default="target/release/redrepl")
    ap.add_argument("--redis", default="/usr/bin/redis-server")
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--callgrind", action="store_true", help="instructions per delivery")
    ap.add_argument("--strace", action="store_true", help="system calls per delivery")
    a = ap.parse_args()
    if a.strace:
        with tempfile.TemporaryDirectory() as tmp:
            strace(a, tmp)
        return
    if a.callgrind:
        with tempfile.TemporaryDirectory() as tmp:
            callgrind(a, tmp)
        return
    with tempfile.TemporaryDirectory() as tmp:
        ports = {"redrepl": free_port(), "redis": free_port()}
        procs = [
            start([a.redrepl, "server"], ports["redrepl"], tmp),
            start([a.redis], ports["redis"], tmp),
        ]
        try:
            print(f"{'subscribers':>11} {'redrepl msg/s':>14} {'redis msg/s':>14} {'ratio':>6}")
            for n in (1, 10, 100):
                ours = asyncio.run(run(ports["redrepl"], n, a.messages, a.size))
                theirs = asyncio.run(run(ports["redis"], n, a.messages, a.size))
                print(f"{n:>11} {ours:>14,.0f} {theirs:>14,.0f} {ours / theirs:>6.2f}")
        finally:
            for p in procs:
                p.kill()
                p.wait()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
