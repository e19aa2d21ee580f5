# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-rulebook event source: state changes of Azure rolling upgrades, extension drift, Device Update imports and AKS operations.

The source is a thin caller: the arguments, the change detection and the
events are in plugins/module_utils/_events.py, the reads in _watch.py (the
same client, auth, retries, pacing and error parsing as the modules, on the
scheduler of _engine.py).
"""

import asyncio
import logging
import os
import sys
from typing import Any

DOCUMENTATION = r"""
---
short_description: Events when Azure rolling upgrades, extension drift, Device Update imports or AKS operations change.
version_added: 1.0.0
description:
  - Polls Azure every O(interval) seconds and puts one event on the queue per state change, never one for an unchanged
    state.
  - A round reads its targets at once, on the scheduler of the batch step (at most 32 reads in flight; each read is
    held back while the process-wide pacer says the Azure budget it spends has no token to spare), and each change
    is put on the queue as soon as its read ends, so a C(Faulted) scale set is reported without waiting for the rest
    of the round. O(interval) is the wait from the end of one round to the start of the next.
  - "Each event is C({azure_ops_rollout: {kind, subscription_id, resource_group, name, status, previous_status,
    progress, error}, meta: {hosts: NAME}}). C(meta.hosts) is the scale set (or AKS cluster, or Device Update
    instance) name, so a C(run_playbook) action runs for that inventory host only; with O(meta_hosts=all) it is
    V(all), so a rule runs its playbook over the whole inventory (the fleet rollout, rings in order). The README of
    the collection documents every field."
  - "One source with O(kinds), not one source per kind: the kinds share one client and one token per plane, the
    scale set kinds share the scale set list, and one rulebook source needs the authentication arguments once. Run the
    source twice (with different O(kinds)) to poll the kinds at different intervals."
  - V(vmss_rolling_upgrade) reads C(rollingUpgrades/latest) of each watched scale set and reports every status change
    (C(RollingForward), C(Completed), C(Faulted), C(Cancelled)); a new upgrade that ends in the same status as the last
    one is a change too.
  - V(vmss_extension_drift) reports when the number of instances running an outdated extension crosses 0
    (C(Outdated) or C(Current)), by the rule of the M(azure_ops.rollout.vmss_extension_info) module (every extension of
    the model is considered).
  - V(vmss_os_drift) reports the same for the OS image, by the rule of M(azure_ops.rollout.vmss_os_info). An instance is
    outdated when it runs an image older than the one an OS rolling upgrade would install (the highest listed platform
    image version, or the newest Compute Gallery version replicated to the region), so a new image version published
    makes a current scale set C(Outdated). While the platform's deferred automatic OS upgrade waits for approval
    (the C(approval) of M(azure_ops.rollout.vmss_os_info)) the status is C(AwaitingApproval) instead.
  - V(adu_import) reports each Device Update operation of O(adu_instance_id) that ends, C(Succeeded) or C(Failed). The
    in-flight operations are listed (the service filters on C(NotStarted) and C(Running) only) and one that leaves the
    list is read once for its outcome; an import that starts and ends within one interval is not seen.
  - V(aks_operation) reports each operation of the O(aks_clusters) that ends (C(Succeeded), C(Failed), C(Canceled)).
  - The first successful read of a scale set, cluster or instance is its baseline. It is reported, with
    C(previous_status) null, when O(emit_current_state) is true, and always for a scale set whose extensions (or OS
    image) are already C(Outdated) (a drift present when the source starts needs the same action as one that appears
    later).
  - Throttling, a failed read or an expired token never ends the source. It logs a warning (once per distinct problem),
    keeps the last known state and goes on; after throttling, server or network errors the wait before the next round
    doubles per failed round, up to 15 minutes. Only bad arguments end it, at start, before any request, with a
    message that names every broken rule.
  - The authentication arguments are those of the modules (the C(azure_ops.rollout.azure) documentation fragment),
    with the same environment variable fallbacks. One token per plane (Resource Manager, Device Update) is reused
    across rounds and refreshed before it expires.
  - "Cost: per round, one request per watched scale set for V(vmss_rolling_upgrade); one scale set read and the pages of
    its VM list with instance views for V(vmss_extension_drift) (an expensive read for Compute: give drift its own source
    with a longer O(interval)); the same for V(vmss_os_drift), with the image catalog instead; one list request per
    Device Update instance (plus one per operation that ended) and one
    list page per AKS cluster; plus the scale set list pages, and for drift the extension versions catalog, every
    O(list_interval) seconds (both drift kinds share the round's catalog cache)."
options:
  kinds:
    description:
      - What to watch. Default, the kinds whose targets are set (V(aks_operation) with O(aks_clusters), V(adu_import) with
        O(adu_instance_id), V(vmss_rolling_upgrade) with O(scale_sets) or O(resource_groups) or when no other target is
        set). V(vmss_extension_drift) and V(vmss_os_drift) are never on by default, their reads are the expensive ones.
    type: list
    elements: str
    choices: [vmss_rolling_upgrade, vmss_extension_drift, vmss_os_drift, adu_import, aks_operation]
  scale_sets:
    description:
      - The scale sets to watch, as names in O(resource_group) or as C({resource_group, name}) mappings.
      - Without O(scale_sets) nor O(resource_groups), every scale set of the subscription is watched.
    type: list
    elements: raw
  resource_groups:
    description:
      - Watch every scale set of these resource groups (read through the paged list, again every O(list_interval)
        seconds so new scale sets are picked up and deleted ones dropped). Exclusive with O(scale_sets).
    type: list
    elements: str
  resource_group:
    description: The resource group of the bare names in O(scale_sets) and O(aks_clusters).
    type: str
  aks_clusters:
    description: The AKS clusters whose operations to watch, as names in O(resource_group) or C({resource_group, name}) mappings.
    type: list
    elements: raw
  adu_endpoint:
    description:
      - Host name of the Device Update account endpoint, for example C(contoso.api.adu.microsoft.com), optionally with
        C(:port). Always reached over HTTPS.
    type: str
  adu_instance_id:
    description: The Device Update instance whose import operations to watch.
    type: str
  adu_api_version:
    description: Device Update API version; V(2020-09-01) selects the legacy preview URL shape.
    type: str
    choices: ['2022-10-01', '2020-09-01']
    default: '2022-10-01'
  interval:
    description:
      - Seconds between two rounds of reads (fractions allowed; 0.01 to 86400).
    type: float
    default: 60
  list_interval:
    description:
      - Seconds between two reads of the lists that change rarely (0 to 86400), the scale set list when O(scale_sets) is
        not given and the extension versions catalog (a newly published version is what makes a scale set drift).
    type: float
    default: 600
  emit_current_state:
    description:
      - Report the state found by the first read of each scale set, cluster or instance (with C(previous_status) null),
        instead of taking it silently as the baseline. Operations that ended before the source started are reported
        only then.
    type: bool
    default: false
  meta_hosts:
    description:
      - What C(meta.hosts) of each event names, which ansible-rulebook's C(run_playbook) passes as the limit.
        V(target) names the scale set, cluster or instance of the event. V(all) lets the rule's playbook run over the
        whole inventory, as a rule that runs the fleet rollout must, so that the rings run in order, behind their
        gates, rather than one scale set out of its ring.
    type: str
    choices: [target, all]
    default: target
extends_documentation_fragment:
  - azure_ops.rollout.azure
"""

EXAMPLES = r"""
- name: Rolling upgrades of two resource groups, and drift
  hosts: vmss
  sources:
    - azure_ops.rollout.operation_events:
        kinds: [vmss_rolling_upgrade, vmss_extension_drift]
        resource_groups: [rg-web, rg-api]
        interval: 60
  rules:
    - name: A rolling upgrade faulted
      condition: >-
        event.azure_ops_rollout.kind == "vmss_rolling_upgrade"
        and event.azure_ops_rollout.status == "Faulted"
      action:
        debug:

- name: Device Update imports and AKS operations
  hosts: all
  sources:
    - azure_ops.rollout.operation_events:
        adu_endpoint: contoso.api.adu.microsoft.com
        adu_instance_id: blue
        resource_group: rg-aks
        aks_clusters: [aks-prod-eus]
        interval: 30
  rules:
    - name: An operation failed
      condition: event.azure_ops_rollout.status == "Failed"
      action:
        print_event:
          pretty: true
"""

LOG = logging.getLogger("azure_ops.rollout.operation_events")


def _module_utils():
    """The collection's module_utils, also when ansible-rulebook runs this file by path (runpy).

    The file lives at <root>/ansible_collections/azure_ops/rollout/extensions/eda/plugins/event_source/; when <root>
    is not on sys.path (ansible-rulebook does not put the collections path there), it is appended.
    """
    try:
        from ansible_collections.azure_ops.rollout.plugins.module_utils import _events, _watch
    except ImportError:
        here = os.path.dirname(os.path.abspath(globals().get("__file__") or "."))
        collection = os.path.normpath(os.path.join(here, os.pardir, os.pardir, os.pardir, os.pardir))
        namespace_dir = os.path.dirname(collection)
        root = os.path.dirname(os.path.dirname(namespace_dir))
        if (os.path.basename(os.path.dirname(namespace_dir)), os.path.basename(namespace_dir),
                os.path.basename(collection)) != ("ansible_collections", "azure_ops", "rollout"):
            raise ImportError("azure_ops.rollout.operation_events must run from an installed collection "
                              "(<path>/ansible_collections/azure_ops/rollout); it is at %s" % here) from None
        if root not in sys.path:
            sys.path.append(root)
        from ansible_collections.azure_ops.rollout.plugins.module_utils import _events, _watch
    return _events, _watch


events_utils, watch_utils = _module_utils()


async def main(queue: asyncio.Queue, args: dict[str, Any]) -> None:
    """Put one event per state change on ``queue`` until cancelled; ArgumentError at start on bad arguments."""
    settings = events_utils.validate_args(args)
    watcher = watch_utils.Watcher(settings, log=LOG)
    LOG.info("%s: watching %s every %s s", events_utils.SOURCE_NAME, ", ".join(settings["kinds"]), settings["interval"])
    loop = asyncio.get_running_loop()
    puts = []

    def emit(event):
        # In the reads' thread, as soon as a read sees a change: onto the queue from the event loop, in order.
        puts.append(asyncio.run_coroutine_threadsafe(queue.put(event), loop))

    try:
        while True:
            # The reads block (requests); a round runs in a worker thread, its reads on the collection's scheduler.
            await asyncio.to_thread(watcher.poll, emit)
            # The next round starts once the rule engine took this one's events (the queue may be bounded).
            await asyncio.gather(*(asyncio.wrap_future(put) for put in puts))
            puts.clear()
            await asyncio.sleep(watcher.next_wait())
    finally:
        watcher.stop()
        for put in puts:
            put.cancel()


if __name__ == "__main__":
    # By hand, with the auth from the environment: python operation_events.py
    class MockQueue(asyncio.Queue):
        """Prints the events."""

        async def put(self, item):
            print(item)  # noqa: T201

    asyncio.run(main(MockQueue(), {"kinds": sys.argv[1:] or None}))
