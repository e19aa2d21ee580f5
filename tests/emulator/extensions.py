"""Scale-set extensions: the versions catalog per location, installed versions per instance, VM rendering.

Ground truth: /work/shared/azure-api/EXTENSIONS.md ("E") and examples/compute-extensions/.
* The catalog (``.../locations/{loc}/publishers/{pub}/artifacttypes/vmextension/types/{type}/versions``) answers a
  bare JSON array of ``{location, name, id}`` (MinimumSet example), in an order that is not numeric (E: "do not
  trust its order"): the emulator sorts the names as strings, so ``1.0.10`` comes before ``1.0.9``.
* A rolling upgrade moves an instance's extension to the highest listed version with the model's major version
  (and its minor version when ``autoUpgradeMinorVersion`` is false), E "What the start action does".
* Instance views report the full version and ``type`` as ``<publisher>.<type>`` with a casing that differs from the
  model's (E: ``Microsoft.Azure.Extensions.customScript``); a deallocated VM reports no ``extensions`` at all, a VM
  whose agent is not ready reports ``extensions: null`` (the InstanceViewAutoPlacedOnDedicatedHostGroup example).
"""

# Versions listed when a scenario says nothing about a publisher/type. westeurope lags behind eastus (phased
# rollouts list a version region by region, E), so the same model has a different target there.
_HEALTH_LINUX = ["1.0.2", "1.0.9", "1.0.10", "1.1.3", "2.0.1"]
_HEALTH_LINUX_WEU = ["1.0.2", "1.0.9", "1.0.10", "2.0.1"]
DEFAULT_CATALOG = [
    {"publisher": "Microsoft.ManagedServices", "type": "ApplicationHealthLinux", "versions": _HEALTH_LINUX},
    {"publisher": "Microsoft.ManagedServices", "type": "ApplicationHealthLinux", "versions": _HEALTH_LINUX_WEU,
     "locations": ["westeurope"]},
    {"publisher": "Microsoft.ManagedServices", "type": "ApplicationHealthWindows", "versions": ["1.0.4", "1.0.10", "1.0.9"]},
    {"publisher": "Microsoft.Azure.Extensions", "type": "CustomScript", "versions": ["2.0.7", "2.1.9", "2.1.10", "2.1.2", "2.2.1"]},
    {"publisher": "Microsoft.Azure.Monitor", "type": "AzureMonitorLinuxAgent", "versions": ["1.9.1", "1.21.0", "1.33.2", "1.33.10"]},
]
ANY_LOCATION = "*"


def version_key(text):
    """Integer tuple of a dotted version (``2.1.10`` > ``2.1.9``); non-numeric parts sort first."""
    key = []
    for part in str(text).split("."):
        key.append(int(part) if part.isdigit() else -1)
    return tuple(key)


class Catalog:
    """Listed extension versions per (location, publisher, type), case-insensitive."""

    def __init__(self, entries=None):
        self._versions = {}
        for entry in list(DEFAULT_CATALOG) + list(entries or []):
            for location in entry.get("locations") or [ANY_LOCATION]:
                key = (location.lower(), entry["publisher"].lower(), entry["type"].lower())
                self._versions[key] = [str(v) for v in entry.get("versions") or []]

    def versions(self, location, publisher, ext_type):
        """The listed versions, or None when the publisher/type is unknown in that location."""
        pub, typ = publisher.lower(), ext_type.lower()
        found = self._versions.get((location.lower(), pub, typ))
        return found if found is not None else self._versions.get((ANY_LOCATION, pub, typ))

    def target(self, location, ext):
        """The version a rolling upgrade moves ``ext`` (a model extension spec) to, or None."""
        model = version_key(ext["typeHandlerVersion"])
        candidates = [v for v in self.versions(location, ext["publisher"], ext["type"]) or []
                      if version_key(v)[:1] == model[:1] and (ext["autoUpgradeMinorVersion"] or version_key(v)[1:2] == model[1:2])]
        return max(candidates, key=version_key) if candidates else None

    def render(self, sub, location, publisher, ext_type, names):
        base = ("/Subscriptions/%s/Providers/Microsoft.Compute/Locations/%s/Publishers/%s/ArtifactTypes/VMExtension/Types/%s/Versions/"
                % (sub, location, publisher, ext_type))
        return [{"location": location, "name": name, "id": base + name} for name in sorted(names)]


def normalize(spec):
    """A scenario extension entry with every model field filled in."""
    ext = {"name": spec["name"], "publisher": spec["publisher"], "type": spec["type"],
           "typeHandlerVersion": str(spec.get("typeHandlerVersion", "1.0")),
           "autoUpgradeMinorVersion": bool(spec.get("autoUpgradeMinorVersion", True)),
           "enableAutomaticUpgrade": bool(spec.get("enableAutomaticUpgrade", False)),
           "installed": spec.get("installed")}
    return ext


def initial_versions(ext, capacity, catalog, location):
    """{instance index: installed version} from the scenario's ``installed`` (a version, ``latest``, or a map)."""
    spec = ext["installed"]
    per_instance = dict(spec) if isinstance(spec, dict) else {}
    default = per_instance.pop("default", None) if isinstance(spec, dict) else spec
    if default is None:
        default = ext["typeHandlerVersion"] + ".0"

    def resolve(value):
        if str(value) == "latest":
            return catalog.target(location, ext) or ext["typeHandlerVersion"] + ".0"
        return str(value)

    versions = {i: resolve(default) for i in range(capacity)}
    for index, value in per_instance.items():
        if 0 <= int(index) < capacity:
            versions[int(index)] = resolve(value)
    return versions


def instance_type(ext):
    """``<publisher>.<type>`` with the type's first letter lowered, as instance views show it (E)."""
    kind = ext["type"]
    return "%s.%s" % (ext["publisher"], kind[:1].lower() + kind[1:])


def _status(code, display, level="Info"):
    return {"code": code, "level": level, "displayStatus": display}


def creating_view(index):
    """The instanceView of a VM still being created (a MaxSurge replacement): no agent, no extensions yet [UNVERIFIED]."""
    return {"platformUpdateDomain": index % 5, "platformFaultDomain": index % 3,
            "statuses": [_status("ProvisioningState/creating", "Creating")]}


_PROVISIONING = {"succeeded": ("ProvisioningState/succeeded", "Provisioning succeeded", "Info"),
                 "updating": ("ProvisioningState/updating", "Updating", "Info"),
                 "failed": ("ProvisioningState/failed/OSProvisioningTimedOut", "Provisioning failed", "Error")}


def instance_view(extensions, versions, index, power, provisioning="succeeded", health=None):
    """The instanceView of one VM: no extensions when deallocated, null ones when the agent is not ready;
    ``vmHealth`` when ``health`` (``healthy``, ``unhealthy``, ``initializing``: the Application Health extension's
    verdict, manual.py) is given."""
    state = "deallocated" if power == "deallocated" else "running"
    code, display, level = _PROVISIONING[provisioning]
    view = {"platformUpdateDomain": index % 5, "platformFaultDomain": index % 3,
            "statuses": [_status(code, display, level), _status("PowerState/" + state, "VM " + state)]}
    if health is not None and power != "deallocated":
        view["vmHealth"] = {"status": _status("HealthState/" + health, "The VM is " + health)}
    if power == "deallocated":
        return view
    if power == "agent-not-ready":
        view["vmAgent"] = {"vmAgentVersion": "Unknown", "statuses": [_status("ProvisioningState/Unavailable", "Not Ready", "Warning")],
                           "extensionHandlers": None}
        view["extensions"] = None
        return view
    handlers, exts = [], []
    for ext in extensions:
        version = versions[ext["name"].lower()].get(index)
        if version is None:
            continue
        handlers.append({"type": instance_type(ext), "typeHandlerVersion": version,
                         "status": _status("ProvisioningState/succeeded", "Ready")})
        exts.append({"name": ext["name"], "type": instance_type(ext), "typeHandlerVersion": version,
                     "statuses": [_status("ProvisioningState/succeeded", "Provisioning succeeded")], "substatuses": []})
    view["vmAgent"] = {"vmAgentVersion": "2.10.0.8", "statuses": [_status("ProvisioningState/succeeded", "Ready")],
                       "extensionHandlers": handlers}
    view["extensions"] = exts
    return view
