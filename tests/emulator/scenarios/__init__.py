"""Scenario loading (YAML/JSON files in this directory, paths, or dicts) and the ``fleet`` generator."""

import copy
import json
import os

SCENARIO_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
CURRENT_HEALTH_EXTENSION = {"name": "HealthExtension", "publisher": "Microsoft.ManagedServices", "type": "ApplicationHealthLinux",
                            "typeHandlerVersion": "1.0", "installed": "latest"}


# Parsed files by (path, modification time): every test loads a scenario, and parsing YAML costs more than the rest
# of a load. Callers get a deep copy (load_scenario), never the cached dict.
_PARSED = {}


def _read(path):
    key = (os.path.abspath(path), os.stat(path).st_mtime_ns)
    if key not in _PARSED:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if path.endswith(".json"):
            _PARSED[key] = json.loads(text)
        else:
            import yaml  # pylint: disable=import-outside-toplevel
            _PARSED[key] = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return copy.deepcopy(_PARSED[key])


def load_scenario(scenario):
    """A fresh scenario dict from a dict, a file path, or a name in this directory (without extension)."""
    if scenario is None:
        scenario = "default"
    if isinstance(scenario, dict):
        return copy.deepcopy(scenario)
    name = str(scenario)
    if os.path.isfile(name):
        data = _read(name)
    else:
        for ext in (".yaml", ".yml", ".json"):
            path = os.path.join(SCENARIO_DIR, name + ext)
            if os.path.isfile(path):
                data = _read(path)
                break
        else:
            raise ValueError("unknown scenario %r (not a file, not in %s)" % (name, SCENARIO_DIR))
    if not isinstance(data, dict):
        raise ValueError("scenario %r is not a mapping" % (name,))
    return data


def list_scenarios():
    return sorted(os.path.splitext(f)[0] for f in os.listdir(SCENARIO_DIR) if f.endswith((".yaml", ".yml", ".json")))


def fleet(n, fault_every=None, capacity=10, batch_seconds=60, time_scale=1.0, rings=("canary", "ring1", "ring2"),
          subscription=DEFAULT_SUBSCRIPTION, groups=2, locations=("eastus", "westeurope"), page_size=10,
          subscriptions=None, throttling=True, faults=None, current_every=3, flexible_every=4):
    """A scenario dict with ``n`` scale sets ``vmss-0000``... spread over ``groups`` resource groups and rings.

    Every ``fault_every``-th scale set (1-based: the fault_every-th, 2*fault_every-th, ...) faults by policy
    (half its instances fail, maxUnhealthyUpgradedInstancePercent 20). ``subscriptions`` (a list) spreads the
    scale sets round-robin over several subscriptions instead of the one ``subscription``. Azure's rate limits are
    on (``throttling``: True for the defaults, a dict of limits as in a scenario file, or False for off) and
    compose with injected ``faults`` (a list of fault rules): a fault's canned answer never reaches the limits.
    Extension drift: every ``current_every``-th scale set (1-based, unless it faults) is current: every instance runs
    the target version of its location, after an extension rolling upgrade that Completed a day ago. The others run
    HealthExtension 1.0.0 on every instance (behind). ``current_every=None``: all behind.
    Every ``flexible_every``-th scale set (1-based) has Flexible orchestration (instances listed as the resource group's
    VMs, named by VM name); ``flexible_every=None``: all Uniform.
    """
    subscriptions = [str(s) for s in (subscriptions or [subscription])]
    scale_sets = []
    for index in range(n):
        vmss = {
            "name": "vmss-%04d" % index,
            "resource_group": "rg-fleet-%d" % (index % groups),
            "location": locations[index % len(locations)],
            "capacity": capacity,
            "batch_seconds": batch_seconds,
            "tags": {"ring": rings[min(len(rings) - 1, index * len(rings) // max(n, 1))], "fleet": "true"},
            "rolling_upgrade_policy": {"maxBatchInstancePercent": 20, "maxUnhealthyInstancePercent": 20,
                                       "maxUnhealthyUpgradedInstancePercent": 20, "pauseTimeBetweenBatches": "PT0S"},
        }
        if len(subscriptions) > 1:
            vmss["subscription"] = subscriptions[index % len(subscriptions)]
        if flexible_every and (index + 1) % flexible_every == 0:
            vmss["orchestration_mode"] = "Flexible"
        if fault_every and (index + 1) % fault_every == 0:
            vmss["fail_percent"] = 50
        elif current_every and (index + 1) % current_every == 0:
            vmss["extensions"] = [dict(CURRENT_HEALTH_EXTENSION)]
            vmss["existing_upgrade"] = {"status": "Completed", "finished_seconds_ago": 86400, "kind": "extension"}
        scale_sets.append(vmss)
    data = {
        "name": "fleet-%d" % n,
        "time_scale": time_scale,
        "page_size": page_size,
        "subscriptions": subscriptions,
        "scale_sets": scale_sets,
        "throttling": copy.deepcopy(throttling),
    }
    if faults:
        data["faults"] = copy.deepcopy(list(faults))
    return data
