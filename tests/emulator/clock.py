"""The emulator's one time base: wall-clock time, with upgrade durations (only they) run at a time scale.

``SimClock.wall()`` is what Azure's clock says: real time (from the scenario's ``start_time`` when it has one) plus
whatever a test advanced. ``Date``, rate-limit buckets and windows, ``Retry-After`` and every time a resource reports
are wall-clock. ``SimClock.now()`` is how far durations have run: the same instants, but real time counts
``time_scale`` times over, so an upgrade of 5 batches of 60 s lasts 30 real seconds at time scale 10. A resource keeps
its instants in ``now()`` readings and reports them through ``stamp()`` (the wall-clock time of that instant).
"""

import bisect
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
    """Thread safe clock of one loaded scenario (see the module docstring)."""

    def __init__(self, start=None, time_scale=1.0):
        self._lock = threading.Lock()
        self._real_base = time.time()
        self._sim_base = time.time() if start is None else parse_time(start)
        self._wall_base = self._sim_base
        self._scale = float(time_scale)
        # (now() reading, wall() reading) at every change of rate or jump, for stamp().
        self._anchors = [(self._sim_base, self._wall_base)]
        self._scales = [self._scale]

    @property
    def time_scale(self):
        return self._scale

    def now(self):
        """How far durations have run (seconds since the epoch, at the time scale since the scenario's load)."""
        with self._lock:
            return self._sim_base + (time.time() - self._real_base) * self._scale

    def wall(self):
        """Azure's clock: real time plus what was advanced."""
        with self._lock:
            return self._wall_base + (time.time() - self._real_base)

    def _rebase(self, scale, jump=0.0):
        real = time.time()
        self._sim_base = self._sim_base + (real - self._real_base) * self._scale + jump
        self._wall_base = self._wall_base + (real - self._real_base) + jump
        self._real_base, self._scale = real, scale
        self._anchors.append((self._sim_base, self._wall_base))
        self._scales.append(scale)

    def advance(self, seconds):
        """Jump both readings ``seconds`` on: durations run on, and Azure's clock (buckets refill, windows end)."""
        with self._lock:
            self._rebase(self._scale, float(seconds))

    def set_time_scale(self, scale):
        scale = float(scale)
        if scale <= 0:
            raise ValueError("time_scale must be > 0")
        with self._lock:
            self._rebase(scale)

    def stamp(self, instant):
        """The wall-clock time of the instant ``now()`` read as ``instant`` (before the scenario's load: as far
        before its wall-clock start; within a jump: the jump's start)."""
        with self._lock:
            index = bisect.bisect_right(self._anchors, (instant, float("inf"))) - 1
            if index < 0:
                return self._anchors[0][1] - (self._anchors[0][0] - instant)
            sim, wall = self._anchors[index]
            at = wall + (instant - sim) / self._scales[index]
            return min(at, self._anchors[index + 1][1]) if index + 1 < len(self._anchors) else at

    def real_seconds(self, sim_seconds):
        """Real seconds a client must wait for ``sim_seconds`` of durations to run (integer, at least 1)."""
        return max(1, int(math.ceil(max(0.0, sim_seconds) / self._scale)))
