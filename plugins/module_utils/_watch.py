# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reads of the event source: one round over everything watched, through the shared client and scheduler.

``Watcher.poll`` is synchronous and blocking (the source runs it in a worker thread). It reads each watched scale
set, AKS cluster and Device Update instance with the same functions the modules use, as one-step machines (``Read``)
on the batch step's scheduler (``_engine.Scheduler``): at most ``workers`` reads at once, each held back while the
pacer says its budget is spent. As each read ends, in the scheduler's thread, what it observed goes through
``_events.Tracker``, and every change becomes an event at once (``emit``): a Faulted scale set is reported when its
read ends, not when the round's slowest read does. A failed read is logged (once per distinct problem) and changes
nothing; throttling and network failures also stretch the wait before the next round.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import logging

from ansible_collections.azure_ops.rollout.plugins.module_utils import _adu, _aks, _drift, _engine, _events, _lro, _os_image, _pacing, _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient, RetryPolicy
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureAuthError, AzureError, AzureTimeoutError
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline

# A read gets a few attempts (the next round comes anyway) and never waits
# longer than this for one Retry-After; the pacer in the client spaces requests.
READ_ATTEMPTS = 4
MAX_RETRY_WAIT = 60.0
# Reads in flight at once: the scheduler's worker bound (the batch step's).
WORKERS = _engine.WORKERS


def _backs_off(error):
    """Whether a failed read should stretch the wait before the next round (the service is busy or unreachable)."""
    return isinstance(error, (AzureTimeoutError, AzureAuthError)) or _lro.is_transient(error)


class Reading:
    """What one read found of one scope, for ``Tracker.update``; ``done``: keys to forget afterwards."""

    def __init__(self, scope, observations, complete=True, done=()):
        self.scope = scope
        self.observations = observations
        self.complete = complete
        self.done = done


class Read(_engine.Task):
    """One read of a round, a one-step machine for the scheduler: ``function()`` returns a Reading, or raises
    (kept in ``error``). ``request``: its first request ``(method, url)``, which the scheduler holds back while the
    pacer says its budget has no token to spare (a read is a poll: elastic), until ``deadline`` at most (then the
    read goes and the client's pacer decides, as for any request); None for a data plane."""

    def __init__(self, label, function, request, clock, deadline):
        super(Read, self).__init__(function)
        self.label = label
        self.request = request
        self.clock = clock
        self.error = None
        self.ctx = _pacing.elastic(deadline)

    def step(self):
        try:
            self.clock.check()   # the source stopped: no new request
            return super(Read, self).step()
        except Exception as error:  # pylint: disable=broad-except  # an odd body must not end the source
            self.error = error
            self.state = "done"
            return None

    def next_request(self):
        return self.request


class Watcher:
    """Everything one source watches, and what it last saw of it.

    ``client``: the shared client (default: one on the source's stoppable clock and the process-wide pacer, or
    ``pacer``); ``workers``: reads in flight at once.
    """

    def __init__(self, settings, log=None, client=None, pacer=None, workers=WORKERS):
        self.settings = settings
        self.interval = settings["interval"]
        self.log = log or logging.getLogger(__name__)
        self.clock = _events.StoppableClock()
        self.workers = workers
        retry = RetryPolicy(max_attempts=READ_ATTEMPTS, backoff_base=1.0, backoff_cap=30.0,
                            max_wait=max(MAX_RETRY_WAIT, self.interval))
        # The process-wide pacer: the source shares Azure's budgets with everything else this process sends. Its
        # waits run on the deadlines of the reads, so on this clock: they end at once when the source stops. A
        # keep-alive connection per worker.
        self.client = client or AzureClient(settings["options"], clock=self.clock, retry=retry,
                                            pacer=pacer or _pacing.PACER, max_connections=max(10, workers))
        self.subscription_id = settings["options"].get("subscription_id")
        self.tracker = _events.Tracker(settings["emit_current_state"])
        self.failed_rounds = 0
        self.rounds = 0
        self.threads = 0
        self._busy = False
        self._listed = None
        self._listed_at = None
        self._problems = {}
        self._adu_api = None
        self._catalog = None
        self._catalog_at = None
        if settings["adu"]:
            _adu.connect(self.client, settings["adu"]["endpoint"])
            self._adu_api = _adu.OperationsApi(settings["adu"]["endpoint"], settings["adu"]["instance_id"],
                                               settings["adu"]["api_version"])

    # -- the round -----------------------------------------------------------------------------------
    def poll(self, emit=None):
        """Read everything once, concurrently; ``emit(event)`` gets each state change's event as soon as its read
        ends (in this thread). Returns the round's events, in the order they were emitted."""
        events = []
        self._busy = False
        self.clock.check()
        reads = self._reads()

        def settle(read):
            # The scheduler's thread: the tracker, the problems and the events are touched here only.
            self.clock.check()
            if isinstance(read.error, _events.SourceStopped):
                raise read.error
            if read.error is not None:
                self._problem(read.label, read.error)
                return
            self._recovered(read.label)
            reading = read.value
            changes = self.tracker.update(reading.scope, reading.observations, complete=reading.complete)
            if reading.done:
                # An operation that ended never comes back to the in-flight list: nothing more to watch.
                self.tracker.forget(reading.scope, reading.done)
            for observation, previous in changes:
                event = _events.build_event(observation, previous, self.settings["meta_hosts"])
                events.append(event)
                if emit is not None:
                    emit(event)

        scheduler = _engine.Scheduler(self.clock, workers=min(self.workers, len(reads)), pacer=self.client.pacer)
        scheduler.run(reads, after_step=settle)
        self.threads = max(self.threads, scheduler.threads)
        self.rounds += 1
        self.failed_rounds = self.failed_rounds + 1 if self._busy else 0
        return events

    def next_wait(self):
        return _events.next_wait(self.interval, self.failed_rounds)

    def stop(self):
        """End the reads: a wait in progress in the worker threads stops at once, and no read starts after it."""
        self.clock.stop()

    def _reads(self):
        """The round's reads, in order (the scale set list, when listed, and the catalog are refreshed first)."""
        kinds = self.settings["kinds"]
        reads = []
        held = self._deadline()   # how long the scheduler may hold a read of this round back for its budget

        def add(label, function, path=None):
            reads.append(Read(label, function, ("GET", self.client.url(path)) if path else None, self.clock, held))

        scale_sets = self._scale_sets() if any(kind in kinds for kind in _events.VMSS_KINDS) else []
        if any(kind in kinds for kind in _events.DRIFT_KINDS):
            now = self.clock.monotonic()
            if self._catalog is None or now - self._catalog_at >= self.settings["list_interval"]:
                # New extension (or image) versions are what makes a current scale set drift: the catalog must not be
                # kept forever.
                self._catalog, self._catalog_at = _drift.CatalogCache(), now
        for resource_group, name in scale_sets:
            where = (self.subscription_id, resource_group, name)
            if _events.VMSS_ROLLING_UPGRADE in kinds:
                add("scale set %s/%s" % (resource_group, name),
                    lambda rg=resource_group, n=name: self.read_rolling_upgrade(rg, n),
                    _vmss.vmss_path(*where + ("rollingUpgrades/latest",)))
            if _events.VMSS_EXTENSION_DRIFT in kinds:
                add("the extensions of scale set %s/%s" % (resource_group, name),
                    lambda rg=resource_group, n=name, c=self._catalog: self.read_drift(rg, n, c), _vmss.vmss_path(*where))
            if _events.VMSS_OS_DRIFT in kinds:
                add("the OS image of scale set %s/%s" % (resource_group, name),
                    lambda rg=resource_group, n=name, c=self._catalog: self.read_os_drift(rg, n, c), _vmss.vmss_path(*where))
        if _events.ADU_IMPORT in kinds:
            adu = self.settings["adu"]
            known = self.tracker.keys(_events.adu_scope(adu["endpoint"], adu["instance_id"]))
            add("Device Update instance %s on %s" % (adu["instance_id"], adu["endpoint"]), lambda: self.read_adu(known))
        if _events.AKS_OPERATION in kinds:
            for resource_group, name in self.settings["aks_clusters"]:
                add("AKS cluster %s/%s" % (resource_group, name), lambda rg=resource_group, n=name: self.read_aks(rg, n),
                    _aks.operations_path(self.subscription_id, resource_group, name))
        return reads

    def _deadline(self):
        return Deadline(max(MAX_RETRY_WAIT, self.interval), self.clock)

    def _problem(self, label, error):
        """Log a failed read, once while the same problem (type, status, code) goes on; note a busy service."""
        if isinstance(error, AzureError) and _backs_off(error):
            self._busy = True
        if isinstance(error, AzureError):
            same, message = (type(error).__name__, error.status, error.code), str(error)
        else:
            same, message = (type(error).__name__, str(error)), "%s: %s" % (type(error).__name__, error)
        if self._problems.get(label) != same:
            self.log.warning("%s: reading %s failed (the source goes on): %s", _events.SOURCE_NAME, label, message)
            self._problems[label] = same

    def _recovered(self, label):
        if self._problems.pop(label, None) is not None:
            self.log.info("%s: reading %s works again", _events.SOURCE_NAME, label)

    # -- scale sets ------------------------------------------------------------------------------------
    def _scale_sets(self):
        """The watched scale sets as (resource group, name): the given list, or the listed ones (re-listed every list_interval)."""
        if self.settings["scale_sets"] is not None:
            return list(self.settings["scale_sets"])
        now = self.clock.monotonic()
        if self._listed is None or now - self._listed_at >= self.settings["list_interval"]:
            label = "the scale set list"
            try:
                listed = self.list_scale_sets()
            except AzureError as error:
                self._problem(label, error)
                return list(self._listed or [])
            self._recovered(label)
            for resource_group, name in set(self._listed or []) - set(listed):
                for kind in _events.VMSS_KINDS:
                    self.tracker.forget(_events.scale_set_scope(kind, self.subscription_id, resource_group, name))
            self._listed, self._listed_at = listed, now
        return list(self._listed)

    def list_scale_sets(self):
        found = []
        for group in self.settings["resource_groups"] or [None]:
            for item in _vmss.list_scale_sets(self.client, self.subscription_id, group, deadline=self._deadline()):
                resource_group = _vmss.id_scope(item.get("id")).resource_group or group
                if resource_group and item.get("name"):
                    found.append((resource_group, item["name"]))
        return found

    def read_rolling_upgrade(self, resource_group, name):
        shaped = _vmss.read_latest(self.client, self.subscription_id, resource_group, name,
                                   deadline=_pacing.elastic(self._deadline())).upgrade
        observation = _events.rolling_upgrade_observation(self.subscription_id, resource_group, name, shaped)
        return Reading(observation.scope, [observation])

    def read_drift(self, resource_group, name, catalog):
        """The model, the VM list with instance views and the versions catalog (``catalog``: the round's cache)."""
        drift = _drift.check(self.client, self.subscription_id, resource_group, name, catalog, deadline=self._deadline())
        observation = _events.drift_observation(self.subscription_id, resource_group, name, drift)
        return Reading(observation.scope, [observation])

    def read_os_drift(self, resource_group, name, catalog):
        """The model, the VM list and the image catalog (``catalog``: the round's cache; no upgrade history)."""
        found = _os_image.check(self.client, self.subscription_id, resource_group, name, catalog, history=0,
                                deadline=self._deadline())
        observation = _events.os_drift_observation(self.subscription_id, resource_group, name, found)
        return Reading(observation.scope, [observation])

    # -- Device Update -----------------------------------------------------------------------------------
    def read_adu(self, known):
        """The in-flight operations from the (filtered) list; each one known (``known``: the tracker's keys at the
        round's start) that left the list is read once for its outcome."""
        adu = self.settings["adu"]
        scope = _events.adu_scope(adu["endpoint"], adu["instance_id"])
        observations = [_events.adu_observation(adu["endpoint"], adu["instance_id"], operation)
                        for operation in _adu.list_operations(self.client, self._adu_api, statuses=_events.ADU_IN_FLIGHT)]
        done = set()
        for key in sorted(known - set(o.key for o in observations)):
            read = _adu.get_operation(self.client, self._adu_api, key[-1], deadline=self._deadline())
            shaped = read.operation
            if read.status == 404 or shaped is None:
                done.add(key)  # purged before we saw its end
                continue
            observations.append(_events.adu_observation(adu["endpoint"], adu["instance_id"], shaped))
            if shaped["status"] not in _events.ADU_IN_FLIGHT:
                done.add(key)
        return Reading(scope, observations, complete=False, done=done)

    # -- AKS -----------------------------------------------------------------------------------------------
    def read_aks(self, resource_group, cluster):
        path = _aks.operations_path(self.subscription_id, resource_group, cluster)
        operations = _aks.list_operations(self.client, path)
        observations = _events.aks_observations(self.subscription_id, resource_group, cluster, operations)
        return Reading(_events.aks_scope(self.subscription_id, resource_group, cluster), observations)
