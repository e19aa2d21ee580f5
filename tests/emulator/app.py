"""The Emulator: owns the state, the listeners, the request log, and routes every request."""

import copy
import os
import shutil
import ssl
import tempfile
import threading
import time

from . import adu, aks, compute, extensions, identity, images
from .arm import ArmScope, missing_api_version
from .clock import SimClock, format_ts, http_date
from .faults import Faults, status_response
from .scenarios import DEFAULT_SUBSCRIPTION, load_scenario
from .server import start_listener
from .throttling import Throttling
from .wire import Response, arm_error, json_response, new_id

CONTROL_PREFIX = "/_emulator/"


class _State:
    """Everything a scenario defines; replaced wholesale by ``load``."""

    def __init__(self, data, base_url, time_scale, throttling=None):
        self.data = data
        self.name = data.get("name", "custom")
        self.subscriptions = [str(s) for s in data.get("subscriptions") or [DEFAULT_SUBSCRIPTION]]
        scale = time_scale if time_scale is not None else data.get("time_scale", 1.0)
        self.clock = SimClock(data.get("start_time"), scale)
        now = self.clock.now()
        self.scope = ArmScope()
        for sub in self.subscriptions:
            self.scope.add_subscription(sub)
        for group in data.get("resource_groups") or []:
            self.scope.add_group(group.get("subscription") or self.subscriptions[0], group["name"], group.get("location"))
        page_size = int(data.get("page_size", 10))
        catalog = extensions.Catalog(data.get("extension_catalog"))
        image_catalog = images.ImageCatalog(data.get("image_catalog"))
        for gallery in (data.get("image_catalog") or {}).get("galleries") or []:
            self.scope.add_group(gallery.get("subscription") or self.subscriptions[0], gallery["resource_group"],
                                 gallery.get("location"))
        scale_sets = [compute.ScaleSet(spec, self.subscriptions[0], now, catalog, image_catalog)
                      for spec in data.get("scale_sets") or []]
        self.compute = compute.Compute(self.scope, scale_sets, self.clock, page_size, catalog, image_catalog)
        clusters = [aks.Cluster(spec, self.subscriptions[0], now) for spec in data.get("aks_clusters") or []]
        self.aks = aks.Aks(self.scope, clusters, self.clock, page_size)
        self.adu = adu.Adu([adu.Instance(spec, now) for spec in data.get("adu_instances") or []], self.clock)
        self.identity = identity.Identity(data.get("identity"), base_url)
        self.faults = Faults(data.get("seed", 0))
        for rule in data.get("faults") or []:
            self.faults.add(rule)
        self.locations = {vmss.id.lower(): vmss.location for vmss in scale_sets}
        self.throttling = Throttling(_throttling_spec(data.get("throttling"), throttling), self.clock,
                                     self.identity.config["client_id"], self.locate)

    def locate(self, path):
        """The region of the resource a request path addresses (a scale set's, an operation's), or None."""
        lower = path.lower()
        if "/locations/" in lower:
            return lower.split("/locations/", 1)[1].split("/", 1)[0]
        parts = lower.split("/")
        return self.locations.get("/".join(parts[:9])) if len(parts) >= 9 else None


class Emulator:  # pylint: disable=too-many-instance-attributes,too-many-public-methods
    """Local Azure emulator (ARM compute + AKS operations, identity, Device Update) over real HTTPS."""

    def __init__(self, scenario="default", port=0, time_scale=None, host="127.0.0.1", foreign_host="127.0.0.2",
                 throttling=None):
        self._lock = threading.RLock()
        self._throttling = throttling
        self._port = port
        self._host = host
        self._foreign_host = foreign_host
        self._time_scale = time_scale
        self._servers = []
        self._tmpdir = None
        self._log = []
        self._seq = 0
        self.base_url = None
        self.host = None
        self.ca_path = None
        self.foreign_base_url = None
        self._state = _State(load_scenario(scenario), "https://%s:%d" % (host, port), time_scale, throttling)

    # ---- lifecycle -------------------------------------------------------
    def start(self):
        import trustme  # pylint: disable=import-outside-toplevel
        if self._servers:
            return self
        self._tmpdir = tempfile.mkdtemp(prefix="azure-emulator-")
        authority = trustme.CA()
        leaf = authority.issue_cert("127.0.0.1", "127.0.0.2", "localhost")
        self.ca_path = os.path.join(self._tmpdir, "ca.pem")
        authority.cert_pem.write_to_path(self.ca_path)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        leaf.configure_cert(context)
        main = start_listener(self._host, self._port, context, self, "main")
        self._servers.append(main)
        self.host = "%s:%d" % (self._host, main.server_address[1])
        self.base_url = "https://" + self.host
        try:
            foreign = start_listener(self._foreign_host, 0, context, self, "foreign")
            foreign_name = self._foreign_host
        except OSError:
            foreign = start_listener("127.0.0.1", 0, context, self, "foreign")   # no 127.0.0.2 (e.g. macOS)
            foreign_name = "localhost"
        self._servers.append(foreign)
        self.foreign_base_url = "https://%s:%d" % (foreign_name, foreign.server_address[1])
        self.load(self._state.data)
        return self

    def stop(self):
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- public API ------------------------------------------------------
    def load(self, scenario):
        data = load_scenario(scenario)
        state = _State(data, self.base_url, self._time_scale, self._throttling)
        with self._lock:
            self._state = state
            self._log = []

    @property
    def tenant_id(self):
        return self._state.identity.config["tenant_id"]

    @property
    def client_id(self):
        return self._state.identity.config["client_id"]

    @property
    def client_secret(self):
        return self._state.identity.config["client_secret"]

    @property
    def federated_token(self):
        return self._state.identity.config["federated_token"]

    @property
    def subscription_ids(self):
        return list(self._state.subscriptions)

    @property
    def identity_endpoint(self):
        return self.base_url + "/msi/token"

    @property
    def identity_header(self):
        return self._state.identity.config["identity_header"]

    @property
    def clock(self):
        return self._state.clock

    def env(self):
        return {
            "AZURE_AUTHORITY_HOST": self.base_url,
            "AZURE_TENANT_ID": self.tenant_id,
            "AZURE_CLIENT_ID": self.client_id,
            "AZURE_CLIENT_SECRET": self.client_secret,
            "AZURE_SUBSCRIPTION_ID": self.subscription_ids[0],
            "AZURE_RESOURCE_MANAGER_ENDPOINT": self.base_url,
            "REQUESTS_CA_BUNDLE": self.ca_path,
            "SSL_CERT_FILE": self.ca_path,
        }

    @property
    def requests(self):
        with self._lock:
            return copy.deepcopy(self._log)

    def clear_requests(self):
        with self._lock:
            self._log = []

    def add_fault(self, rule):
        with self._lock:
            return self._state.faults.add(rule).name

    def clear_faults(self):
        with self._lock:
            self._state.faults.clear()

    def advance(self, seconds):
        self._state.clock.advance(seconds)

    def set_time_scale(self, scale):
        self._state.clock.set_time_scale(scale)

    def sim_now(self):
        return self._state.clock.now()

    def set_throttling(self, enabled):
        """Turn the rate limits of the loaded scenario on or off (counting restarts from a full budget)."""
        with self._lock:
            state = self._state
            spec = _throttling_spec(state.data.get("throttling"), bool(enabled))
            state.throttling = Throttling(spec, state.clock, state.identity.config["client_id"], state.locate)

    @property
    def throttling(self):
        """The limits in force and the 429 answers they sent, per policy."""
        with self._lock:
            return self._state.throttling.describe()

    def budgets(self, subscription=None):
        """What is left now of every rate-limit budget of a subscription (default: the first); see Throttling.budgets."""
        with self._lock:
            state = self._state
            return state.throttling.budgets(subscription or state.subscriptions[0])

    def change_model(self, name, patch, resource_group=None, subscription=None):
        """Change a scale set's model as a PATCH with ``patch`` would (manual.py), without a request: a new image
        version, SKU or VM profile setting makes every instance outdated. Raises ValueError on a refusal."""
        with self._lock:
            state = self._state
            found = [v for v in state.compute.scale_sets if v.name.lower() == name.lower()
                     and (resource_group is None or v.rg.lower() == resource_group.lower())
                     and (subscription is None or v.sub.lower() == subscription.lower())]
            if len(found) != 1:
                raise ValueError("%d scale sets match %r" % (len(found), name))
            vmss = found[0]
            refused = vmss.change_model(patch, state.clock.now())
            if isinstance(refused, tuple):
                raise ValueError("%s %s: %s" % refused)
            if refused == "started":
                state.compute.operations[vmss.upgrade.op_id.lower()] = {"upgrade": vmss.upgrade, "kind": "start",
                                                                        "sub": vmss.sub}
            return vmss.generation

    def issued_tokens_count(self, kind=None):
        with self._lock:
            return self._state.identity.issued_count(kind)

    def state(self):
        """JSON-able dump of the resources."""
        with self._lock:
            st = self._state
            now = st.clock.now()
            scale_sets = []
            for vmss in st.compute.scale_sets:
                upgrade = vmss.upgrade
                versions = vmss.versions(now)
                scale_sets.append({
                    "id": vmss.id, "name": vmss.name, "subscription": vmss.sub, "resource_group": vmss.rg, "location": vmss.location,
                    "tags": vmss.tags, "capacity": vmss.capacity, "upgrade_mode": vmss.mode,
                    "orchestration_mode": vmss.orchestration,
                    # What names each instance index now: instance ids (Uniform) or VM names (Flexible).
                    "vm_names": [vmss.instance_key(number) for _i, number, creating in vmss.numbers(now) if not creating],
                    "latest": upgrade.status_info(now, st.clock.stamp) if upgrade else None,
                    "operation_id": upgrade.op_id if upgrade else None,
                    "operation_status": upgrade.op_status(now)[0] if upgrade else None,
                    # When the upgrade (its operation) ended, in wall-clock seconds (clock.py), or None.
                    "ended_at": (st.clock.stamp(upgrade.op_status(now)[1]) if upgrade and upgrade.op_status(now)[1] is not None
                                 else None),
                    # What each instance reports (None: deallocated or agent not ready), per model extension.
                    "extension_versions": {ext["name"]: [versions[ext["name"].lower()][i] if vmss.power(i) == "running" else None
                                                         for i in range(vmss.capacity)] for ext in vmss.extensions},
                    # The model's generation and, per instance index, what it applied of it (manual.py).
                    "model_generation": vmss.generation,
                    "instances": [dict(vmss.instance(i, now), latest_model=vmss.instance(i, now)["generation"] == vmss.generation)
                                  for i in range(vmss.capacity)],
                })
            clusters = [{"id": c.id, "operations": [op.render(now, c.id, st.clock.stamp) for op in c.operations]} for c in st.aks.clusters]
            instances = [{"instance_id": i.instance_id, "operation_count": len(i), "imported": [op.op_id for op in i.imported]}
                         for i in st.adu.instances.values()]
            return {"scenario": st.name, "sim_time": format_ts(now), "time_scale": st.clock.time_scale,
                    "subscriptions": st.subscriptions, "scale_sets": scale_sets, "aks_clusters": clusters, "adu_instances": instances,
                    "faults": [r.describe() for r in st.faults.rules], "tokens_issued": dict(st.identity.issued)}

    # ---- request handling ------------------------------------------------
    def dispatch(self, ctx):
        """Called by the listeners for every request."""
        if ctx.listener == "main" and ctx.path.startswith(CONTROL_PREFIX):
            return self._control(ctx)
        ctx.kind = _classify(ctx.path)
        with self._lock:
            state = self._state
            rule = state.faults.pick(ctx)
        action = rule.action if rule else {}
        if rule:
            ctx.fault = rule.name
        if action.get("delay"):
            time.sleep(float(action["delay"]))
        with self._lock:
            try:
                resp = self._process(state, ctx, action)
            except Exception as exc:  # pylint: disable=broad-except
                resp = arm_error(500, "InternalServerError", "emulator error: %s: %s" % (type(exc).__name__, exc))
            if self._state is state:
                # A slow request that outlived a load() belongs to the old
                # scenario; keep it out of the new request log.
                self._record(state, ctx, resp)
        return resp

    def _process(self, state, ctx, action):
        if ctx.listener == "foreign":
            state.identity.is_valid(ctx)
            ctx.authorized = False
            body = {"type": "https://tools.ietf.org/html/rfc7231#section-6.5.4", "title": "Not Found", "status": 404}
            return json_response(404, body, content_type="application/problem+json; charset=utf-8")
        if action.get("expire_tokens"):
            state.identity.expire_all()
        if "status" in action:
            return self._decorate(state, ctx, status_response(action, ctx.kind, time.time()))
        if action.get("drop") and not action.get("apply"):
            return Response(drop=True)
        ctx.link_base = self.base_url if ctx.kind == "arm" else ""
        if action.get("foreign_location"):
            ctx.link_base = self.foreign_base_url
        elif action.get("relative_location"):
            ctx.link_base = ""
        resp = self._decorate(state, ctx, self._route(state, ctx))
        if action.get("drop"):
            resp.drop = True
        if action.get("malformed_json"):
            text = resp.body or b'{"value": [{"id": "'
            resp = Response(200, text[:max(1, len(text) // 2)], [("Content-Type", "application/json; charset=utf-8")])
        return resp

    def _route(self, state, ctx):
        if ctx.kind == "token":
            return state.identity.handle(ctx)
        if ctx.kind == "arm":
            err = state.identity.check(ctx, list(identity.ARM_AUDIENCES) + [self.base_url])
            if err:
                return err
            if not ctx.q("api-version"):
                return missing_api_version()
            throttled = state.throttling.admit(ctx)
            if throttled is not None:
                return throttled
            if state.compute.handles(ctx.path):
                return state.compute.handle(ctx)
            if state.aks.handles(ctx.path):
                return state.aks.handle(ctx)
            sub = ctx.path.split("/")[2] if ctx.path.count("/") >= 2 else ""
            return state.scope.check(sub) or arm_error(404, "NotFound", "The requested resource '%s' does not exist." % ctx.path)
        if ctx.kind == "adu":
            err = state.identity.check(ctx, [identity.ADU_AUDIENCE])
            return err or state.adu.handle(ctx)
        return json_response(404, {"error": {"code": "NotFound", "message": "No emulator route for %s %s" % (ctx.method, ctx.path)}})

    def _decorate(self, state, ctx, resp):
        """Common headers: Date (wall-clock, clock.py), and ARM request ids and rate-limit counters (throttling.py)."""
        resp.set_header("Date", http_date(state.clock.wall()))
        if ctx.kind != "arm":
            return resp
        if resp.header("x-ms-request-id") is None:
            resp.set_header("x-ms-request-id", new_id())
        resp.set_header("x-ms-correlation-request-id", ctx.headers.get("x-ms-correlation-request-id") or new_id())
        state.throttling.decorate(ctx, resp)
        for key, value in (("Cache-Control", "no-cache"), ("Pragma", "no-cache"), ("Expires", "-1"),
                           ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")):
            resp.set_header(key, value)
        return resp

    def _record(self, state, ctx, resp):
        self._seq += 1
        self._log.append({
            "seq": self._seq, "time": time.time(), "sim_time": format_ts(state.clock.now()),
            "method": ctx.method, "path": ctx.path, "query": copy.deepcopy(ctx.query), "host": ctx.host,
            "listener": ctx.listener, "kind": ctx.kind, "authorized": ctx.authorized,
            "had_authorization_header": ctx.headers.get("Authorization") is not None, "audience": ctx.audience,
            "status": None if resp.drop else resp.status, "dropped": resp.drop,
            # What the service decided for a request whose answer it then dropped (apply): 202 started, 401 did not.
            "dropped_status": resp.status if resp.drop else None,
            "client_request_id": ctx.headers.get("x-ms-client-request-id"), "user_agent": ctx.headers.get("User-Agent"),
            "fault": ctx.fault,
        })

    # ---- control endpoint --------------------------------------------------
    def _control(self, ctx):
        name = ctx.path[len(CONTROL_PREFIX):].strip("/")
        try:
            body = ctx.json() or {}
            result = self._control_action(ctx.method, name, body)
        except (ValueError, KeyError, TypeError) as exc:
            return json_response(400, {"error": "%s: %s" % (type(exc).__name__, exc)})
        if result is None:
            return json_response(404, {"error": "unknown control endpoint %s %s" % (ctx.method, ctx.path)})
        return json_response(200, result)

    def _control_action(self, method, name, body):
        if (method, name) == ("GET", "health"):
            return {"status": "ok", "base_url": self.base_url, "scenario": self._state.name, "sim_time": format_ts(self.sim_now())}
        if (method, name) == ("GET", "requests"):
            return self.requests
        if (method, name) == ("DELETE", "requests"):
            self.clear_requests()
            return {"status": "cleared"}
        if (method, name) == ("POST", "scenario"):
            self.load(body["name"] if set(body) == {"name"} else body)
            return {"status": "loaded", "scenario": self._state.name}
        if (method, name) == ("POST", "faults"):
            return {"status": "added", "name": self.add_fault(body)}
        if (method, name) == ("DELETE", "faults"):
            self.clear_faults()
            return {"status": "cleared"}
        if (method, name) == ("POST", "clock"):
            if "time_scale" in body:
                self.set_time_scale(body["time_scale"])
            if "advance" in body:
                self.advance(body["advance"])
            return {"sim_time": format_ts(self.sim_now()), "time_scale": self._state.clock.time_scale}
        if (method, name) == ("POST", "throttling"):
            self.set_throttling(body["enabled"])
            return self.throttling
        if (method, name) == ("GET", "throttling"):
            return self.throttling
        if (method, name) == ("POST", "model"):
            generation = self.change_model(body["scale_set"], body.get("patch") or {}, body.get("resource_group"),
                                           body.get("subscription"))
            return {"status": "changed", "model_generation": generation}
        if (method, name) == ("GET", "state"):
            return self.state()
        if (method, name) == ("GET", "env"):
            return self.env()
        return None


def _throttling_spec(spec, enabled=None):
    """The scenario's ``throttling`` value, switched on or off when ``enabled`` is not None."""
    if enabled is None:
        return spec
    if isinstance(spec, dict):
        return dict(spec, enabled=bool(enabled))
    return {"enabled": bool(enabled)}


def _classify(path):
    lower = path.lower()
    if identity.is_token_path(path):
        return "token"
    if lower.startswith("/subscriptions/"):
        return "arm"
    if lower.startswith("/deviceupdate/"):
        return "adu"
    return "other"
