#!/usr/bin/env python3
"""Time to first content token of a streamed chat completion, direct to an upstream and through
`lantern guard`, with the mock upstream pacing its events (`x-mock-chunk-delay-ms`: 6 characters
per event, so 100 ms is 60 characters per second).

usage: bench/guard-ttft.py UPSTREAM_PORT GUARD_PORT GUARD_KEY [--delay-ms 100] [--runs 5]

Prints, per target, the median time to the first non-empty `delta.content` and to the end of the
stream, in ms. Standard library only.
"""
import json
import socket
import statistics
import sys
import time


def stream(port, key, delay_ms, prompt):
    body = json.dumps({"model": "m", "stream": True,
                       "messages": [{"role": "user", "content": prompt}]}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
            f"authorization: Bearer {key}\r\ncontent-type: application/json\r\n"
            f"x-mock-chunk-delay-ms: {delay_ms}\r\ncontent-length: {len(body)}\r\n"
            f"connection: close\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.monotonic()
    s.sendall(head + body)
    buf, first = b"", None
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        if first is None:
            for line in buf.split(b"\n"):
                line = line.strip()
                if not line.startswith(b"data: {"):
                    continue
                try:
                    v = json.loads(line[6:])
                except ValueError:
                    continue
                for c in v.get("choices") or []:
                    if (c.get("delta") or {}).get("content"):
                        first = time.monotonic() - t0
                        break
                if first is not None:
                    break
    s.close()
    return first, time.monotonic() - t0


def main():
    args = sys.argv[1:]
    if len(args) < 3:
        print(__doc__)
        sys.exit(2)
    up, guard, key = int(args[0]), int(args[1]), args[2]
    delay = int(args[args.index("--delay-ms") + 1]) if "--delay-ms" in args else 100
    runs = int(args[args.index("--runs") + 1]) if "--runs" in args else 5
    prompt = ("The quick brown fox jumps over the lazy dog while the guard reads every "
              "word of the answer it streams back. ") * 3
    print(f"| target | TTFT (ms) | whole stream (ms) |\n|---|---:|---:|")
    for name, port in (("direct", up), ("guard", guard)):
        firsts, totals = [], []
        for _ in range(runs):
            f, t = stream(port, key, delay, prompt)
            firsts.append((f or t) * 1000)
            totals.append(t * 1000)
        print(f"| {name} | {statistics.median(firsts):.0f} | {statistics.median(totals):.0f} |")


if __name__ == "__main__":
    main()
