#!/usr/bin/env python3
"""faultproxy.py UPSTREAM PORT_FILE [FAILURES]: an HTTP proxy on 127.0.0.1 in front of UPSTREAM
(http://127.0.0.1:PORT) that answers the first FAILURES requests (default 0) with 503 SlowDown, as
S3 does when it sheds load, and forwards every other request as it came: method, path, query,
headers (so a SigV4 signature still holds) and body. Its port goes to PORT_FILE once it listens;
each request it answered itself adds a line "503 METHOD PATH" to PORT_FILE.log. It serves until
it is killed, and at most an hour."""
import http.client
import os
import http.server
import sys
import threading
import urllib.parse

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
       "upgrade"}
SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            b'<Message>Please reduce your request rate.</Message></Error>')


def main():
    upstream = urllib.parse.urlsplit(sys.argv[1])
    port_file = sys.argv[2]
    failures = [int(sys.argv[3]) if len(sys.argv) > 3 else 0]
    lock = threading.Lock()
    log = open(port_file + ".log", "a", buffering=1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def body(self):
            if self.headers.get("Expect", "").lower() == "100-continue":
                self.send_response_only(100)
                self.end_headers()
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def handle_one(self):
            data = self.body()
            with lock:
                fail = failures[0] > 0
                if fail:
                    failures[0] -= 1
            if fail:
                log.write("503 %s %s\n" % (self.command, self.path))
                self.send_response(503)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(SLOWDOWN)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(SLOWDOWN)
                return
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in HOP and k.lower() != "expect"}
            conn.request(self.command, self.path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length",
                             resp.getheader("Content-Length", str(len(payload)))
                             if self.command == "HEAD" else str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            conn.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_one

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            # A client that gave up (a timeout being tested) closed its end: not news.
            pass

    server = Server(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(port_file + ".tmp", port_file)
    threading.Timer(3600, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
