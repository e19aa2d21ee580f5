"""Simulated clock: sim_now = sim_start + real_elapsed * time_scale + advanced."""

import datetime
import email.utils
import math
import re
import threading
import time

_DURATION_RE = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)


def parse_duration(value):
    """Seconds of an ISO 8601 duration such as ``PT0S`` or ``PT1M30S`` (numbers pass through)."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    match = _DURATION_RE.match(str(value).strip())
    if not match:
        raise ValueError("invalid ISO 8601 duration: %r" % (value,))
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def parse_time(value):
    """Epoch seconds of an ISO 8601 timestamp (or a number)."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime.datetime):
        dt = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        dt = datetime.datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.timestamp()


def format_ts(epoch, zulu=False):
    """Azure style timestamp with 7 fractional digits: ``2020-11-17T07:06:27.0292795+00:00``."""
    whole = math.floor(epoch)
    frac = int(round((epoch - whole) * 10 ** 7))
    if frac >= 10 ** 7:
        whole, frac = whole + 1, 0
    dt = datetime.datetime.fromtimestamp(whole, tz=datetime.timezone.utc)
    return "%s.%07d%s" % (dt.strftime("%Y-%m-%dT%H:%M:%S"), frac, "Z" if zulu else "+00:00")


def http_date(epoch):
    """RFC 7231 IMF-fixdate."""
    return email.utils.formatdate(epoch, usegmt=True)


class SimClock:
    """Thread safe simulated clock."""

    def __init__(self, start=None, time_scale=1.0):
        self._lock = threading.Lock()
        self._real_base = time.time()
        self._sim_base = time.time() if start is None else parse_time(start)
        self._scale = float(time_scale)
        self._advanced = 0.0

    @property
    def time_scale(self):
        return self._scale

    def now(self):
        with self._lock:
            return self._sim_base + (time.time() - self._real_base) * self._scale + self._advanced

    def advance(self, seconds):
        with self._lock:
            self._advanced += float(seconds)

    def set_time_scale(self, scale):
        scale = float(scale)
        if scale <= 0:
            raise ValueError("time_scale must be > 0")
        with self._lock:
            real = time.time()
            self._sim_base = self._sim_base + (real - self._real_base) * self._scale + self._advanced
            self._real_base = real
            self._advanced = 0.0
            self._scale = scale

    def real_seconds(self, sim_seconds):
        """Real seconds a client must wait for ``sim_seconds`` of simulated time (integer, at least 1)."""
        return max(1, int(math.ceil(max(0.0, sim_seconds) / self._scale)))
