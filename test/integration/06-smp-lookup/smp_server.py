#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A static SMP for the discovery integration tests (SMP-NOTES §4).

Serves SMP documents from a routes file, one route a line:
    <status> TAB <percent-decoded path> TAB <file or ->
The request path is percent-decoded exactly once; a path holding a raw ':' '#' or space is
answered 400, because the client must percent-encode identifiers (RFC 3986). Only 127.0.0.1.
usage: smp_server.py PORT ROUTES [CERT KEY]   (CERT/KEY: serve https)
"""
import http.server
import ssl
import sys
import urllib.parse


def load_routes(path):
    routes = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            status, decoded, file = line.split("\t")
            routes[decoded] = (int(status), file)
    return routes


class Handler(http.server.BaseHTTPRequestHandler):
    routes = {}
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if any(c in path for c in ":# "):
            self.answer(400, b"identifier not percent-encoded\n", "text/plain")
            return
        decoded = urllib.parse.unquote(path)
        status, file = self.routes.get(decoded, (404, "-"))
        if status == 301:
            self.send_response(301)
            self.send_header("Location", file)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"not found\n"
        ctype = "text/plain"
        if file != "-" and status == 200:
            with open(file, "rb") as f:
                body = f.read()
            ctype = "text/xml; charset=UTF-8"
        self.answer(status, body, ctype)

    def answer(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("smp_server: " + (fmt % args) + "\n")


def main():
    port = int(sys.argv[1])
    Handler.routes = load_routes(sys.argv[2])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    if len(sys.argv) > 4:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
