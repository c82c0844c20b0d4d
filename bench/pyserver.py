"""Python's socketserver, the lesson's baseline, for bench/run.

usage: pyserver.py tcp|forking|threading PORT
Each request reads the client's line and answers "connected".
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
with cls(("127.0.0.1", int(sys.argv[2])), Handler) as server:
    print("listening", flush=True)
    server.serve_forever()
