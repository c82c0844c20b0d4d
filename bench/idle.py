"""Open N idle TCP connections to 127.0.0.1:PORT and hold them until stdin closes.

usage: idle.py PORT N
Prints "held N" once every connection is established (and accepted: each
one waits for the server's first byte or a short pause).
"""
import resource
import socket
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 100)), hard))
conns = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    conns.append(s)
print(f"held {len(conns)}", flush=True)
sys.stdin.read()
