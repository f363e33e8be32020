#!/usr/bin/env python3
"""A stand-in for a notification service (healthchecks.io, a webhook receiver): answers every
request 200, or the status a path's last segment "status-NNN" names, and appends one JSON line
per request to LOG: method, target (path and query), headers, body. Prints "listening on
127.0.0.1:PORT" once it serves, as our own servers do.
    recording_http_server.py LOG
"""
import http.server
import json
import sys
import threading

LOG = sys.argv[1]
lock = threading.Lock()


class Recorder(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        with lock, open(LOG, "a", encoding="utf-8") as out:
            out.write(json.dumps({"method": self.command, "target": self.path,
                                  "headers": dict(self.headers), "body": body}) + "\n")
        status = 200
        last = self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        if last.startswith("status-") and last[7:].isdigit():
            status = int(last[7:])
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    do_GET = do_POST = do_PUT = do_HEAD = handle_any

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
print(f"listening on 127.0.0.1:{server.server_port}", flush=True)
server.serve_forever()
