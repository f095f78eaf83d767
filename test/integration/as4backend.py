# SPDX-License-Identifier: Apache-2.0
"""Test doubles on loopback for the reliability scenarios (03, 04, 08).

Backend: a backend's webhook endpoint. Records every request as4d makes (pushed messages as
multipart/form-data, notifications as JSON) and answers with a status the scenario chooses.

Capture: a plain-HTTP forwarding proxy in front of an MSH endpoint that keeps every request
body and Content-Type it forwarded (to replay a message exactly as it was sent), and can
answer with a fixed status instead of forwarding (a peer that answers 5xx).
"""
import email.parser
import email.policy
import http.client
import http.server
import json
import ssl
import threading


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Backend:
    """Webhook endpoint: every request is kept; `status` is the answer (settable)."""

    def __init__(self, status=200):
        self.status = status
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    status = outer.status
                    outer.requests.append({
                        "path": self.path,
                        "headers": dict((k.lower(), v) for k, v in self.headers.items()),
                        "body": body,
                        "status": status,
                    })
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "3")
                self.end_headers()
                self.wfile.write(b"ok\n" if status < 300 else b"no\n")

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def on(self, path):
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def notifications(self, path="/notify"):
        """The JSON documents POSTed to path, in arrival order."""
        return [json.loads(r["body"]) for r in self.on(path)]

    def pushes(self, path="/push", accepted=True):
        """Pushed messages it answered 2xx (all with accepted=False):
        [{"delivery_id", "message_id", "metadata", "payloads": [(content type, bytes)]}]."""
        out = []
        for r in self.on(path):
            if accepted and not 200 <= r["status"] < 300:
                continue
            head = ("Content-Type: %s\r\n\r\n" % r["headers"]["content-type"]).encode()
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + r["body"])
            meta, payloads = None, []
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                data = part.get_payload(decode=True)
                if name == "metadata":
                    meta = json.loads(data)
                else:
                    payloads.append((part.get("content-type"), data))
            out.append({"delivery_id": r["headers"].get("x-as4-delivery-id"),
                        "message_id": r["headers"].get("x-as4-message-id"),
                        "metadata": meta, "payloads": payloads})
        return out


class Capture:
    """Plain-HTTP proxy to an MSH URL (TLS checked against cafile; plain HTTP when cafile is
    None) keeping what it forwards: captured is a list of (request Content-Type, request
    body, status, response body).

    fixed_status: answer every request with this HTTP status (and no ebMS signal) instead of
    forwarding it.
    """

    def __init__(self, target_port, cafile, fixed_status=None):
        self.fixed_status = fixed_status
        self.captured = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                ctype = self.headers.get("Content-Type")
                with outer.lock:
                    fixed = outer.fixed_status
                if fixed is not None:
                    status, rtype, data = fixed, "text/plain", b"unavailable\n"
                else:
                    if cafile is None:
                        conn = http.client.HTTPConnection("127.0.0.1", target_port, timeout=60)
                    else:
                        ctx = ssl.create_default_context(cafile=cafile)
                        conn = http.client.HTTPSConnection("127.0.0.1", target_port,
                                                           context=ctx, timeout=60)
                    try:
                        conn.request("POST", "/as4", body=body,
                                     headers={"Content-Type": ctype})
                        r = conn.getresponse()
                        status, rtype, data = r.status, r.getheader("Content-Type"), r.read()
                    except OSError:
                        status, rtype, data = 502, "text/plain", b"peer down\n"
                    finally:
                        conn.close()
                with outer.lock:
                    outer.captured.append((ctype, body, status, data))
                self.send_response(status)
                self.send_header("Content-Type", rtype or "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d/as4" % self.port

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
