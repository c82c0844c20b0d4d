"""A small HTTP/1.1 responder for bench/run's small-request section, used
only where nginx is not installed: every GET answers "hello\n" on a
keep-alive connection (ab -k and wrk reuse their connections).

usage: pyhttp.py PORT
"""
import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body are two writes: without TCP_NODELAY the
    # second waits for the client's delayed ACK (40 ms).
    disable_nagle_algorithm = True

    def do_GET(self):
        body = b"hello\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if self.headers.get("Connection", "").lower() == "keep-alive":
            # ab -k asks in HTTP/1.0 and keeps the connection only when the
            # answer says so; otherwise it waits for a close that never comes.
            self.send_header("Connection", "keep-alive")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer.request_queue_size = 1024
with http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler) as server:
    server.serve_forever()
