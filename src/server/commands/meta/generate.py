#!/usr/bin/env python3
"""Generates data.rs: Redis 7.0's command metadata (COMMAND INFO and COMMAND DOCS).

How to regenerate (from the repository root, with Debian's redis-server 7.0.15 installed):

    python3 src/server/commands/meta/generate.py > src/server/commands/meta/data.rs
    cargo fmt

The script starts a throw-away redis-server on a free port, asks it (RESP3) for COMMAND
INFO and COMMAND DOCS of every command, and writes one entry per command and per
subcommand (`client|list`): its full name, its COMMAND INFO reply and its COMMAND DOCS reply,
both RESP3-encoded as redis-server sent them, except that a container's entries carry no
subcommands (redrepl adds those it implements when it answers).
"""

import os
import socket
import subprocess
import sys
import tempfile
import time


def command(sock, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)


class Reader:
    """A RESP3 reader over a socket, enough for COMMAND's replies."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("redis-server closed the connection")
        self.buf += chunk

    def exact(self, n):
        while len(self.buf) < n + 2:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def read(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return ("simple", rest)
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return ("int", int(rest))
        if kind == b"$":
            return ("bulk", self.exact(int(rest)))
        if kind == b"_":
            return ("null", None)
        if kind in (b"*", b"~"):
            items = [self.read() for _ in range(int(rest))]
            return ("array" if kind == b"*" else "set", items)
        if kind == b"%":
            pairs = [(self.read(), self.read()) for _ in range(int(rest))]
            return ("map", pairs)
        raise RuntimeError("unexpected RESP3 type %r" % kind)


def encode(node):
    kind, v = node
    if kind == "simple":
        return b"+" + v + b"\r\n"
    if kind == "int":
        return b":%d\r\n" % v
    if kind == "bulk":
        return b"$%d\r\n%s\r\n" % (len(v), v)
    if kind == "null":
        return b"_\r\n"
    if kind in ("array", "set"):
        head = b"*" if kind == "array" else b"~"
        return head + b"%d\r\n" % len(v) + b"".join(encode(x) for x in v)
    if kind == "map":
        return b"%%%d\r\n" % len(v) + b"".join(encode(k) + encode(x) for k, x in v)
    raise ValueError(kind)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server():
    port = free_port()
    tmp = tempfile.mkdtemp()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--dir", tmp, "--logfile", ""],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            return proc, socket.create_connection(("127.0.0.1", port))
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def info_entries(node, out):
    """Flattens one COMMAND INFO entry (and its subcommands) into `out`: name -> node."""
    items = list(node[1])
    name = items[0][1].decode()
    subs = items[9][1]
    items[9] = ("set", [])
    out[name] = ("array", items)
    for sub in subs:
        info_entries(sub, out)


def docs_entries(name, node, out):
    """Flattens one COMMAND DOCS entry (and its subcommands) into `out`: name -> node."""
    fields = []
    for key, value in node[1]:
        if key[1] == b"subcommands":
            for sub_name, sub_doc in value[1]:
                docs_entries(sub_name[1].decode(), sub_doc, out)
        else:
            fields.append((key, value))
    out[name] = ("map", fields)


def rust_bytes(data):
    out = []
    for b in data:
        c = chr(b)
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\r":
            out.append("\\r")
        elif c == "\n":
            out.append("\\n")
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append("\\x%02x" % b)
    return 'b"' + "".join(out) + '"'


def main():
    proc, sock = start_server()
    try:
        reader = Reader(sock)
        command(sock, "HELLO", "3")
        version = dict((k[1], v[1]) for k, v in reader.read()[1])[b"version"].decode()
        command(sock, "COMMAND", "INFO")
        info = {}
        for entry in reader.read()[1]:
            info_entries(entry, info)
        command(sock, "COMMAND", "DOCS")
        docs = {}
        for name, doc in reader.read()[1]:
            docs_entries(name[1].decode(), doc, docs)
    finally:
        sock.close()
        proc.kill()
        proc.wait()
    if set(info) != set(docs):
        raise RuntimeError("COMMAND INFO and COMMAND DOCS name different commands")
    top = sum(1 for n in info if "|" not in n)
    print("// @generated by src/server/commands/meta/generate.py from redis-server %s;" % version)
    print("// do not edit: see the script's header for how to regenerate.")
    print()
    print("/// Redis %s's %d commands and their subcommands, sorted by full name" % (version, top))
    print("/// (`client|list`): the COMMAND INFO entry and the COMMAND DOCS entry, RESP3-encoded,")
    print("/// without subcommands.")
    print("pub static ENTRIES: &[(&str, &[u8], &[u8])] = &[")
    for name in sorted(info):
        print("    (")
        print('        "%s",' % name)
        print("        %s," % rust_bytes(encode(info[name])))
        print("        %s," % rust_bytes(encode(docs[name])))
        print("    ),")
    print("];")


if __name__ == "__main__":
    sys.exit(main())
