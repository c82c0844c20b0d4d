"""An independent load client for bench/run: the same exchange and the same
window method as `sockcat send --duration`, written without any sockcat code,
so that one cell can show that sockcat's load mode measures what another
client measures.

usage: pyload.py HOST PORT CONCURRENCY WARMUP_S WINDOW_S

Each thread connects, sends "hello\\n", shuts its write side, reads until
the server's FIN and starts again. Exchanges that start before the warm-up
ends are left out; the rate counts exchanges that start and finish inside
the window; exchanges in flight when it closes finish (bounded by a 5 s
socket timeout) and are reported as late. Prints one JSON object.
"""
import json
import socket
import sys
import threading
import time

host, port = sys.argv[1], int(sys.argv[2])
conc, warmup, window = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
start = time.monotonic()
opened, closed = start + warmup, start + warmup + window
lock = threading.Lock()
lat, errors = [], {}
counts = {"ok_in_window": 0, "late": 0}


def worker():
    mine, mine_err, in_window, late = [], {}, 0, 0
    while True:
        t0 = time.monotonic()
        if t0 >= closed:
            break
        err = None
        try:
            with socket.create_connection((host, port), timeout=5) as s:
                s.sendall(b"hello\n")
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
        except OSError as e:
            err = type(e).__name__
        t1 = time.monotonic()
        if t0 < opened:
            continue
        if t1 > closed:
            late += 1
        if err:
            mine_err[err] = mine_err.get(err, 0) + 1
        else:
            mine.append(t1 - t0)
            if t1 <= closed:
                in_window += 1
    with lock:
        lat.extend(mine)
        counts["ok_in_window"] += in_window
        counts["late"] += late
        for k, v in mine_err.items():
            errors[k] = errors.get(k, 0) + v


threads = [threading.Thread(target=worker) for _ in range(conc)]
for t in threads:
    t.start()
for t in threads:
    t.join()
lat.sort()


def pct(p):
    if not lat:
        return None
    i = max(1, -(-len(lat) * p // 100)) - 1  # nearest rank
    return lat[min(int(i), len(lat) - 1)] * 1000


print(json.dumps({
    "ok": len(lat),
    "ok_in_window": counts["ok_in_window"],
    "late": counts["late"],
    "errors": sum(errors.values()),
    "errors_by_kind": errors,
    "connections_per_sec": counts["ok_in_window"] / window,
    "stalls": sum(1 for x in lat if x >= 1.0),
    "latency_ms": {"p50": pct(50), "p99": pct(99), "p99.9": pct(99.9), "max": pct(100)},
}))
