#!/usr/bin/env python3
"""measure-sse-stuck.py: RSS of an SSE server whose client never reads.

The scenario of issue 11, finding 4: a client opens GET /sse, never reads
the stream, and posts CALLS tool calls (list_offered_models) to its session.
Prints the server's RSS (VmRSS of /proc/PID/status) before the stream is
opened, after the calls were posted, and after a further settle time with the
socket still open, plus its peak RSS (VmHWM) and the HTTP statuses of the
posts. Usage: measure-sse-stuck.py ADDR TOKEN PID [CALLS] [SETTLE_SECONDS]
"""
import http.client
import json
import socket
import sys
import time


def rss(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # MiB
    return float("nan")


def main():
    addr, token, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    calls = int(sys.argv[4]) if len(sys.argv) > 4 else 4000
    settle = float(sys.argv[5]) if len(sys.argv) > 5 else 15
    host, port = addr.rsplit(":", 1)
    before = rss(pid)

    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((host, int(port)))
    s.sendall(f"GET /sse HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    buf = b""
    while b"sessionId=" not in buf or not buf.split(b"sessionId=", 1)[1].count(b"\n"):
        buf += s.recv(1)
    endpoint = buf.split(b"data: ", 1)[1].split(b"\r\n", 1)[0].split(b"\n", 1)[0].decode().strip()
    # From here on the stream is never read.

    conn = http.client.HTTPConnection(host, int(port))
    statuses = {}
    for i in range(calls):
        body = json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                           "params": {"name": "list_offered_models", "arguments": {}}})
        conn.request("POST", endpoint, body, {"Authorization": "Bearer " + token,
                                              "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        statuses[r.status] = statuses.get(r.status, 0) + 1
    after = rss(pid)
    time.sleep(settle)
    settled = rss(pid)
    print(f"calls posted: {calls}; HTTP statuses: {dict(sorted(statuses.items()))}")
    print(f"RSS before the stream: {before:.1f} MiB; after the posts: {after:.1f} MiB "
          f"(+{after - before:.1f}); {settle:.0f} s later, socket still open: {settled:.1f} MiB "
          f"(+{settled - before:.1f}); peak (VmHWM): {rss(pid, 'VmHWM'):.1f} MiB")
    s.close()


if __name__ == "__main__":
    main()
