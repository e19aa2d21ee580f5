"""HTTPS listeners: stdlib ThreadingHTTPServer, TLS handshake done in the worker thread."""

import http.server
import socket
import ssl
import threading
import urllib.parse

from .wire import Ctx


class _TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, ssl_context, app, listener):
        self.ssl_context = ssl_context
        self.app = app
        self.listener = listener
        self.thread = None
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address):
        try:
            request.settimeout(30)
            # Headers and body go out in separate writes: without this, Nagle holds the body back until the
            # client's delayed ACK (about 40 ms per response on Linux).
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        """Silence tracebacks of client disconnects."""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "azure-emulator"
    sys_version = ""

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """No access log on stderr."""

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parsed = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parsed.path) or "/"
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        ctx = Ctx(self.command, self.path, path, query, self.headers, body, self.server.listener, self.headers.get("Host", ""))
        resp = self.server.app.dispatch(ctx)
        if resp.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(resp.status)
        for key, value in resp.headers:
            self.send_header(key, value)
        if resp.status != 304:
            self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD" and resp.status != 304:
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    def send_response(self, code, message=None):
        """Like the base class but without the automatic Server/Date headers (we send a simulated Date)."""
        self.log_request(code)
        self.send_response_only(code, message)


def start_listener(host, port, ssl_context, app, listener):
    """Bind, serve in a daemon thread; returns the server."""
    server = _TLSServer((host, port), ssl_context, app, listener)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="emulator-%s" % listener, daemon=True)
    thread.start()
    server.thread = thread
    return server
