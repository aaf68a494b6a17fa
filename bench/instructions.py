#!/usr/bin/env python3
"""CPU cost per request, load-independent: redrepl's server against Debian's redis-server.

Each server runs under `valgrind --tool=callgrind --instr-atstart=no`; after a warm-up run,
instrumentation is switched on (callgrind_control -i on) for two redis-benchmark runs of n
and 3n requests, each counted on its own (-z / -d); (second - first) / 2n is the user-space
instructions the server spends per request, whatever the machine's load, without what a
run costs once (50 connections accepted, TLS handshakes). `--strace` instead counts syscalls per request (strace -c -f attached during
the run, the server not under valgrind).

Requests are custom redis-benchmark commands on `app:` keys, so the same run works for the
default user and for a user restricted to `~app:*` (`--user restricted`, the #14 ACL check
cost). `--tls` runs both servers with a TLS port only (fresh CA and server certificate from
openssl, clients not asked for a certificate) and redis-benchmark --tls.

Usage: python3 bench/instructions.py [--tests get,set,incr,ping_mbulk,zadd] [--pipeline 1]
       [--clients 50] [--requests 20000] [--user default|restricted|both] [--tls]
       [--servers redrepl,redis] [--binary target/release/redrepl] [--strace]
Prints one row per (server, user, test): instructions (or syscalls) per request.
A benchmark, not a test.
"""
import argparse, os, shutil, signal, socket, subprocess, sys, tempfile, time

COMMANDS = {
    "ping_mbulk": ["PING"],
    "set": ["SET", "app:key:__rand_int__", "xxx"],
    "get": ["GET", "app:key:__rand_int__"],
    "incr": ["INCR", "app:counter:__rand_int__"],
    "lpush": ["LPUSH", "app:mylist", "xxx"],
    "hset": ["HSET", "app:myhash", "element:__rand_int__", "xxx"],
    "zadd": ["ZADD", "app:myzset", "0", "element:__rand_int__"],
}
PASSWORD = "bench-pass"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certs(tmp):
    """A CA and a server certificate for 127.0.0.1 (openssl); the paths by role."""
    def ossl(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True)
    p = {k: os.path.join(tmp, f"{k}.pem") for k in ("ca", "ca_key", "cert", "key", "csr")}
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p["ca_key"], "-out", p["ca"],
         "-days", "2", "-subj", "/CN=bench-ca")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", p["key"], "-out", p["csr"], "-subj", "/CN=127.0.0.1")
    ext = os.path.join(tmp, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ossl("x509", "-req", "-in", p["csr"], "-CA", p["ca"], "-CAkey", p["ca_key"], "-CAcreateserial",
         "-out", p["cert"], "-days", "2", "-extfile", ext)
    return p


class Target:
    """Where and how to reach a server (plain or TLS, as which user)."""

    def __init__(self, port, certs, user):
        self.port, self.certs, self.user = port, certs, user

    def client_args(self):
        a = ["-p", str(self.port)]
        if self.certs:
            a += ["--tls", "--cacert", self.certs["ca"]]
        if self.user == "restricted":
            a += ["--user", "app", "-a", PASSWORD]
        return a

    def cli(self, *args, as_admin=True):
        a = ["redis-cli", "-p", str(self.port)]
        if self.certs:
            a += ["--tls", "--cacert", self.certs["ca"]]
        return subprocess.run(a + list(args), capture_output=True, text=True, timeout=30).stdout


def server_cmd(kind, binary, port, workdir, certs):
    base = [binary, "server"] if kind == "redrepl" else ["redis-server"]
    args = ["--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--dir", workdir,
            "--logfile", os.path.join(workdir, "server.log")]
    if certs:
        args += ["--port", "0", "--tls-port", str(port), "--tls-cert-file", certs["cert"],
                 "--tls-key-file", certs["key"], "--tls-ca-cert-file", certs["ca"], "--tls-auth-clients", "no"]
    else:
        args += ["--port", str(port)]
    return base + args


def wait_ready(t, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server on port {t.port} exited with {proc.returncode}")
        try:
            if "PONG" in t.cli("ping"):
                return
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.2)
    sys.exit(f"server on port {t.port} did not answer PING")


def benchmark(t, test, n, pipeline, clients):
    cmd = ["redis-benchmark", *t.client_args(), "-c", str(clients), "-n", str(n), "-P", str(pipeline), "-q",
           *COMMANDS[test]]
    subprocess.run(cmd, check=True, capture_output=True)


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def measure(kind, args, user, test, tmp, certs):
    port = free_port()
    workdir = tempfile.mkdtemp(dir=tmp)
    t = Target(port, certs, user)
    cmd = server_cmd(kind, args.binary, port, workdir, certs)
    out = os.path.join(workdir, "callgrind.out")
    if not args.strace:
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"] + cmd
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(t, proc)
        if user == "restricted":
            t.cli("ACL", "SETUSER", "app", "on", ">" + PASSWORD, "~app:*", "+@all")
        benchmark(t, test, max(args.requests // 10, 1000), args.pipeline, args.clients)  # warm-up
        if args.strace:
            st = os.path.join(workdir, "strace.txt")
            tracer = subprocess.Popen(["strace", "-c", "-f", "-o", st, "-p", str(proc.pid)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
            benchmark(t, test, args.requests, args.pipeline, args.clients)
            tracer.send_signal(signal.SIGINT)
            tracer.wait()
            with open(st) as f:
                return f.read()
        # Two runs, n and 3n requests, each dumped on its own: the difference is 2n requests
        # without what a run costs once (connections, TLS handshakes).
        def ctl(*a):
            subprocess.run(["callgrind_control", *a, str(proc.pid)], check=True, capture_output=True)
        ctl("-i", "on")
        parts = []
        for n in (args.requests, 3 * args.requests):
            ctl("-z")
            benchmark(t, test, n, args.pipeline, args.clients)
            ctl("-d")
            parts.append(newest_part(out))
        ctl("-i", "off")
        return (callgrind_total(parts[1]) - callgrind_total(parts[0])) / 2
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def newest_part(out):
    """The dump callgrind_control -d just wrote next to `out` (`out.N`)."""
    d, base = os.path.split(out)
    parts = [f for f in os.listdir(d) if f.startswith(base + ".")]
    return os.path.join(d, max(parts, key=lambda f: int(f.rsplit(".", 1)[1])))


def syscall_summary(text, n):
    """`name calls/request` for the syscalls strace counted, most frequent first."""
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
            calls = int(parts[3])
            rows.append((calls / n, parts[-1]))
    rows.sort(reverse=True)
    return ", ".join(f"{name} {per:.3f}" for per, name in rows if per >= 0.001)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", default="get,set,incr,ping_mbulk,zadd")
    ap.add_argument("--pipeline", type=int, default=1)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--user", choices=["default", "restricted", "both"], default="default")
    ap.add_argument("--servers", default="redrepl,redis")
    ap.add_argument("--binary", default="target/release/redrepl")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--strace", action="store_true", help="syscalls per request instead of instructions")
    args = ap.parse_args()
    users = ["default", "restricted"] if args.user == "both" else [args.user]
    tmp = tempfile.mkdtemp(prefix="redrepl-instr-")
    try:
        certs = make_certs(tmp) if args.tls else None
        what = "syscalls per request" if args.strace else "instructions per request"
        print(f"{what}: -c {args.clients} -P {args.pipeline}, {args.requests} requests{' over TLS' if args.tls else ''}")
        for test in args.tests.split(","):
            for user in users:
                for kind in args.servers.split(","):
                    r = measure(kind, args, user, test, tmp, certs)
                    if args.strace:
                        print(f"{kind:8} {user:10} {test:10} {syscall_summary(r, args.requests)}", flush=True)
                    else:
                        print(f"{kind:8} {user:10} {test:10} {r / args.requests:10,.0f}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
