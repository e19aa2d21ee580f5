"""Request context and response helpers shared by the route modules."""

import json
import uuid

JSON_CT = "application/json; charset=utf-8"


class Ctx:
    """One incoming request, plus what the router learned about it."""

    def __init__(self, method, raw_path, path, query, headers, body, listener, host):
        self.method = method
        self.raw_path = raw_path
        self.path = path
        self.query = query          # dict of lists
        self.headers = headers      # case-insensitive .get()
        self.body = body
        self.listener = listener
        self.host = host
        self.kind = None
        self.link_base = ""         # base for absolute links (Location, nextLink); "" means relative
        self.fault = None
        self.authorized = False
        self.audience = None
        self.ratelimit = None       # remaining counts ARM and Compute left after this request (throttling.py)

    def q(self, name, default=None):
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self):
        if not self.body:
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None


class Response:
    """What the server writes back (or ``drop`` to close the socket silently)."""

    def __init__(self, status=200, body=b"", headers=None, drop=False):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.headers = list(headers or [])
        self.drop = drop

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def set_header(self, name, value):
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, str(value)))


def json_response(status, obj, headers=None, pretty=False, content_type=JSON_CT):
    if pretty:
        text = json.dumps(obj, indent=2).replace("\n", "\r\n")
    else:
        text = json.dumps(obj, separators=(",", ":"))
    hdrs = [("Content-Type", content_type)] + list(headers or [])
    return Response(status, text, hdrs)


def empty_response(status, headers=None):
    return Response(status, b"", headers)


def arm_error(status, code, message, headers=None, extra=None):
    err = {"code": code, "message": message}
    if extra:
        err.update(extra)
    return json_response(status, {"error": err}, headers)


def new_id():
    return str(uuid.uuid4())
