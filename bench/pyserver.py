"""Python's socketserver, the lesson's baseline, for bench/run.

usage: pyserver.py tcp|forking|threading PORT [QUEUE]
Each request reads the client's line and answers "connected". QUEUE sets
request_queue_size, the listen backlog: socketserver's default is 5, which
makes a busy server drop SYNs (a client then waits out a 1 s retransmit), so
bench/run measures it both at its default and at 1024.
"""
import socketserver
import sys


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        self.rfile.readline()
        self.wfile.write(b"connected\n")


kinds = {
    "tcp": socketserver.TCPServer,
    "forking": socketserver.ForkingTCPServer,
    "threading": socketserver.ThreadingTCPServer,
}
cls = kinds[sys.argv[1]]
cls.allow_reuse_address = True
if len(sys.argv) > 3:
    cls.request_queue_size = int(sys.argv[3])
with cls(("127.0.0.1", int(sys.argv[2])), Handler) as server:
    print("listening", flush=True)
    server.serve_forever()
