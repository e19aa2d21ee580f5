"""The scale set model and the instances that apply it: model changes, ``manualupgrade``, instance health.

Ground truth (cited in tests/emulator/README.md, "Model rollouts"):
* Each Uniform instance reports ``properties.latestModelApplied`` (VirtualMachineScaleSetVMProperties; the
  VirtualMachineScaleSetVM_List_MaximumSet example in /work/shared/azure-api/examples/compute-extensions). A change
  of the scale set model (an image reference, the SKU, a setting of the VM profile) leaves every instance on the
  older model until it applies the new one (Microsoft Learn, "Upgrade policies for Virtual Machine Scale Sets":
  image reference upgrades, SKU changes, ... "need to be applied to each individual instance").
* ``POST .../virtualMachineScaleSets/{name}/manualupgrade`` with ``{"instanceIds": [...]}``
  (VirtualMachineScaleSets_UpdateInstances, 200/202; Microsoft Learn, "Performing manual upgrades on Virtual Machine
  Scale Sets": the ids are instance ids in a Uniform scale set, VM names in a Flexible one) updates the given
  instances to the model; the emulator answers it like the other scale-set actions (202, Azure-AsyncOperation and
  Location), each instance taking ``manual_upgrade_seconds``, all of them at once [UNVERIFIED: concurrency].
* Upgrade policy ``Automatic``: "the scale set might take down all virtual machines at the same time" (same page):
  a model change starts the update of every instance at once.
* ``protectFromScaleSetActions``: "Protects instance from operations initiated on the scale set (such as upgrade,
  reimage, deallocate, etc.)" (Microsoft Learn, "Instance Protection for Azure Virtual Machine Scale Set instances"):
  a protected instance named in a manualupgrade is left as it is; the call still succeeds [UNVERIFIED].
* Health: ``instanceView.vmHealth.status.code`` ``HealthState/healthy`` / ``HealthState/unhealthy`` when the model has
  the Application Health extension (the VM list example has ``vmHealth``; the codes as Azure/ARO-RP reads them from
  VMSS instance views); ``HealthState/initializing`` while the instance is being updated [UNVERIFIED].
"""

from .wire import new_id

HEALTH_TYPES = ("applicationhealthlinux", "applicationhealthwindows")
HEALTH_PUBLISHER = "microsoft.managedservices"
HEALTHY, UNHEALTHY, INITIALIZING = "healthy", "unhealthy", "initializing"
# A failed instance update without a health probe: the VM's provisioning fails and so does the operation.
FAILED_CODE = "OSProvisioningTimedOut"   # a real Compute code for a VM that did not come up [UNVERIFIED for manualupgrade]
FAILED_MESSAGE = ("OS Provisioning for VM '%s' did not finish in the allotted time. The VM may still finish provisioning "
                  "successfully.")


def seconds_per_instance(spec):
    """``manual_upgrade_seconds``: a number for every instance, or ``{default: s, "<index>": s}``."""
    per_instance = dict(spec) if isinstance(spec, dict) else {}
    default = float(per_instance.pop("default", 60) if isinstance(spec, dict) else (60 if spec is None else spec))
    overrides = {int(index): float(value) for index, value in per_instance.items()}
    return lambda index: overrides.get(index, default)


def has_health_probe(extensions):
    """Whether the model has the Application Health extension (instances then report ``vmHealth``)."""
    return any(ext["publisher"].lower() == HEALTH_PUBLISHER and ext["type"].lower() in HEALTH_TYPES for ext in extensions)


def initial_applied(spec, capacity, generation):
    """{instance index: model generation applied} from the scenario's ``model_outdated_instances`` (a list of
    indexes, or ``all``): those run the generation before ``generation``."""
    if spec == "all":
        outdated = set(range(capacity))
    else:
        outdated = {int(i) for i in spec or []}
    return {i: generation - 1 if i in outdated else generation for i in range(capacity)}


class ManualUpgrade:
    """One update of some instances to the model of ``generation`` (a manualupgrade call, or an Automatic policy's
    own after a model change), evaluated lazily from the clock."""

    def __init__(self, vmss, start, indexes, automatic=False):
        self.op_id = new_id()
        self.start = start
        self.automatic = automatic
        self.generation = vmss.generation
        self.model = vmss.model_snapshot()
        self.ends = {i: start + vmss.manual_seconds(i) for i in indexes}
        self.failing = {i for i in indexes if i in vmss.failing}
        self.probe = has_health_probe(vmss.extensions)
        self.end_time = max(self.ends.values()) if self.ends else start
        self.vm_ref = vmss.vm_ref

    def updating(self, index, now):
        return index in self.ends and self.start <= now < self.ends[index]

    def finished(self, index, now):
        return index in self.ends and now >= self.ends[index]

    def broken(self, index):
        """A failing instance without a health probe: its provisioning fails (with one, it comes back unhealthy)."""
        return index in self.failing and not self.probe

    def op_status(self, now):
        """(status, end time, error) of the operation."""
        if now < self.end_time:
            return "InProgress", None, None
        broken = sorted(i for i in self.ends if self.broken(i))
        if broken:
            details = [{"code": FAILED_CODE, "target": self.vm_ref(i), "message": FAILED_MESSAGE % self.vm_ref(i)}
                       for i in broken]
            return "Failed", self.end_time, {"code": FAILED_CODE, "message": details[0]["message"], "details": details}
        return "Succeeded", self.end_time, None


def instance_state(base, upgrades, index, now):
    """``{generation, health, provisioning, model}`` of instance ``index`` at ``now``: ``base`` (its state before
    ``upgrades``) changed by every update of it that finished, in order; ``provisioning`` is ``updating`` while one
    runs."""
    state = dict(base)
    for upgrade in upgrades:
        if upgrade.updating(index, now):
            return dict(state, health=INITIALIZING, provisioning="updating")
        if not upgrade.finished(index, now):
            continue
        if upgrade.broken(index):
            state.update(provisioning="failed", health=UNHEALTHY)
            continue
        state.update(generation=upgrade.generation, model=upgrade.model, provisioning="succeeded",
                     health=UNHEALTHY if index in upgrade.failing else HEALTHY)
    return state


def deep_merge(current, patch):
    """A PATCH body merged into ``current`` (dicts merge, anything else replaces)."""
    merged = dict(current)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
