# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:

    # The authentication and endpoint options shared by every module and the
    # inventory plugin (plugins/module_utils/_auth.py defines them).
    DOCUMENTATION = r"""
options:
  auth_source:
    description:
      - Where the credential comes from.
      - V(auto) tries, in order, the explicit options (a client secret or certificate, which may also come from the
        environment variables listed below), workload identity (when E(AZURE_FEDERATED_TOKEN_FILE) is set), managed
        identity, then the Azure CLI. It never prompts interactively. A O(client_id) without O(secret) (or
        O(x509_certificate_path)) fails before any request, naming what is missing, unless
        E(AZURE_FEDERATED_TOKEN_FILE) is set (workload identity), as a secret set under a name nothing reads must not
        make the run fall through to the machine's managed identity. Use V(msi) for a user-assigned managed identity.
      - V(env) uses azure-identity's C(EnvironmentCredential) (E(AZURE_CLIENT_ID), E(AZURE_CLIENT_SECRET) or
        E(AZURE_CLIENT_CERTIFICATE_PATH), E(AZURE_TENANT_ID)).
      - V(cli) uses the token of C(az login). V(msi) uses a managed identity (user-assigned when O(client_id) is set).
        V(workload_identity) uses a federated token file (AKS workload identity).
      - V(credential_file) reads O(profile) from C(~/.azure/credentials) (or E(AZURE_CREDENTIAL_FILE)), the format
        C(azure.azcollection) uses.
      - Falls back to E(ANSIBLE_AZURE_AUTH_SOURCE).
    type: str
    choices: [auto, env, cli, msi, workload_identity, credential_file]
    default: auto
  subscription_id:
    description:
      - The subscription GUID. Falls back to E(AZURE_SUBSCRIPTION_ID).
    type: str
  client_id:
    description:
      - Application (client) ID of the service principal, or of the user-assigned managed identity.
      - Falls back to E(AZURE_CLIENT_ID).
    type: str
  secret:
    description:
      - Client secret of the service principal. Never logged nor returned.
      - Falls back to E(AZURE_CLIENT_SECRET), then E(AZURE_SECRET).
    type: str
  tenant:
    description:
      - Directory (tenant) ID. Falls back to E(AZURE_TENANT_ID), then E(AZURE_TENANT).
    type: str
  x509_certificate_path:
    description:
      - PEM file holding the private key and certificate of the service principal, for certificate authentication.
      - Falls back to E(AZURE_CLIENT_CERTIFICATE_PATH), then E(AZURE_X509_CERTIFICATE_PATH).
    type: path
  profile:
    description:
      - Profile to read from the credential file when O(auth_source=credential_file). Defaults to C(default).
      - Falls back to E(AZURE_PROFILE).
    type: str
  cloud_environment:
    description:
      - The Azure cloud, which sets the default resource manager endpoint and authority host.
      - Falls back to E(AZURE_CLOUD_ENVIRONMENT).
    type: str
    choices: [AzureCloud, AzureChinaCloud, AzureUSGovernment]
    default: AzureCloud
  resource_manager_endpoint:
    description:
      - Resource manager endpoint, for Azure Stack Hub, private clouds or a local emulator, for example
        C(https://management.local.azurestack.external). Overrides O(cloud_environment).
      - The ARM token is requested for C(<endpoint>/.default) and is only ever sent to this host.
      - Falls back to E(AZURE_RESOURCE_MANAGER_ENDPOINT).
    type: str
  authority_host:
    description:
      - Microsoft Entra authority host, for example C(https://login.microsoftonline.com). Overrides O(cloud_environment).
      - Falls back to E(AZURE_AUTHORITY_HOST).
    type: str
  validate_certs:
    description:
      - Verify TLS certificates. Turn off only for a trusted test endpoint.
      - The CA bundle in E(REQUESTS_CA_BUNDLE) is honoured, as C(requests) does.
    type: bool
    default: true
  ca_path:
    description:
      - PEM bundle of the certificate authorities to trust instead of the system ones.
    type: path
  request_timeout:
    description:
      - Seconds to wait for one HTTP response before retrying it (1 to 3600). Transient failures (HTTP 429, 500, 502,
        503, 504, dropped connections) are retried with exponential backoff and jitter, honouring C(Retry-After).
      - A request that cannot reach the service fails fast, naming the host and the kind of failure
        (C(ConnectionError), C(NameResolutionError), C(TLSError)). A refused connection or a host name that does not
        resolve is tried 3 times, at most 0.5 s then 1 s apart; a connection attempt that gets no answer within the
        connect timeout (this option, at most 10 s) is tried twice. So it fails within two request timeouts plus
        1.5 s. A certificate that fails verification is not retried.
    type: int
    default: 60
notes:
  - Requires the C(requests) and C(azure-identity) Python packages on the host that runs the module (usually
    C(localhost)). azure-identity is only imported for certificate, managed identity, workload identity and CLI
    authentication.
  - "All modules of the collection belong to the action group C(azure_ops.rollout.azure), so
    C(module_defaults: {group/azure_ops.rollout.azure: {...}}) sets these options once for a play."
  - Azure's rate limits (Resource Manager's per-subscription buckets, Compute's per-minute token buckets per scale set
    and per subscription, such as C(LowCostGet)) are respected from Microsoft's published budgets (configurable as JSON
    in E(AZURE_OPS_ROLLOUT_BUDGETS)) and the remaining counts Azure sends with every answer; requests wait for a token
    before a budget runs out. A 429 is waited out within the task's deadline; one whose C(Retry-After) reaches past the
    deadline fails at once, naming the policy and the C(Retry-After).
"""

    # Attribute every module of the collection shares: membership of the action group.
    ACTION_GROUP = r"""
attributes:
  action_group:
    support: full
    membership: [azure_ops.rollout.azure]
    description: Use C(group/azure_ops.rollout.azure) in C(module_defaults) to set the auth options once.
"""

    # Attributes of the modules that only read.
    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
"""

    # The scale set a VMSS module acts on.
    VMSS = r"""
options:
  resource_group:
    description: Resource group of the scale set (1 to 90 characters matching V(^[-\\w._(\)]+$), not ending with C(.)).
    type: str
    required: true
  name:
    description: Name of the scale set (1 to 64 letters, digits, C(-), C(_) and C(.)).
    type: str
    required: true
    aliases: [vmss_name]
  api_version:
    description: Compute API version.
    type: str
    default: '2024-07-01'
"""

    # A module's own run: one scale set, wait or not, resume (vmss_extension_upgrade, vmss_os_upgrade).
    RUN = r"""
options:
  wait:
    description:
      - Wait for the rolling upgrade to end. With V(false) the task returns right after the service accepted the
        start, with RV(operation_url) to resume watching later.
    type: bool
    default: true
  operation_url:
    description:
      - Resume watching an operation an earlier task started (its RV(operation_url)). Nothing is started then.
    type: str
  progress_file:
    description:
      - While waiting, append one JSON line per status read to this file on the host that runs the module (usually the
        controller), with C(time), C(elapsed), C(code), C(succeeded), C(failed), C(in_progress), C(pending) and
        C(percent_complete), for a run with C(async) watched by something else. To roll out many scale sets with live
        progress, use the role P(azure_ops.rollout.vmss_extension_rollout#role) (one batch step, no files) instead.
    type: path
"""

    # The options that decide what an extension rolling upgrade step does (vmss_extension_upgrade, vmss_rollout_batch).
    UPGRADE = r"""
options:
  wait_timeout:
    description:
      - Seconds the whole task may take, a hard deadline (1 to 86400). No request and no sleep extends past it.
    type: int
    default: 3600
  poll_interval:
    description:
      - Seconds between status reads when the service sends no C(Retry-After) (compute never does), 1 to 3600.
    type: int
    default: 30
  if_running:
    description:
      - What to do when a rolling upgrade is already C(RollingForward). An upgrade interrupted by a lost controller
        (Ctrl-C, a killed job) goes on in Azure; a re-run with V(wait) attaches to it instead of starting another.
      - V(wait) attaches to it and waits for it (nothing new is started, C(changed=false)).
      - V(fail) fails the task at once. V(start) asks the service to start another one anyway.
    type: str
    choices: [wait, fail, start]
    default: wait
  on_timeout:
    description:
      - What to do when O(wait_timeout) passes before the upgrade ends.
      - V(fail) fails the task with the last progress; the upgrade goes on in Azure (C(left_running)).
      - V(cancel) cancels the rolling upgrade (C(POST .../rollingUpgrades/cancel)) when this task started it, reports
        C(cancelled) and fails the task. An upgrade the task only attached to is left running unless
        O(cancel_attached=true).
      - V(leave) returns without failing, with C(timed_out=true), and the upgrade goes on.
    type: str
    choices: [fail, cancel, leave]
    default: fail
  cancel_attached:
    description:
      - With O(on_timeout=cancel), also cancel an upgrade that this task did not start but attached to (someone else's,
        or an earlier run's). Off by default, because cancelling another operator's upgrade must be a decision.
    type: bool
    default: false
  if_faulted:
    description:
      - What to do when no upgrade is running and the latest one ended C(Faulted) (the rolling-upgrade policy was
        breached).
      - V(start) starts a new upgrade, as for any other finished one. V(fail) refuses (C(action=refuse)) and fails
        the task with the fault's code and message, so that a re-run after a policy breach never starts the upgrade
        again until someone decides to (the role and the fleet playbooks default to V(fail)).
    type: str
    choices: [start, fail]
    default: start
  only_if_outdated:
    description:
      - Start an upgrade only when an instance runs an outdated version of a considered extension (see O(extensions)
        and the notes); otherwise the scale set is C(current) and nothing is started (C(changed=false), no C(POST)).
        The versions are read only when no upgrade is running.
      - V(false) starts whenever the other options allow, without reading the versions (C(extensions) is null).
    type: bool
    default: true
  skip_if_completed_within:
    description:
      - Do not start a new upgrade when the latest one C(Completed) and started less than this many seconds ago (by the
        service's clock), so that re-running a maintenance play changes nothing. V(0) always starts one when none is
        running.
    type: int
    default: 0
"""

    # Which extensions count, and the rule that says an instance runs an outdated one (module_utils/_drift.py).
    # The options of a model rollout (vmss_model_rollout, and vmss_rollout_batch with kind=model): _model.MODEL_SPEC.
    MODEL = r"""
options:
  batch_size:
    description:
      - Instances per C(manualupgrade) call, as a count (V(3)) or a percentage of the scale set's instances (V(20%),
        rounded up, at least 1).
      - Default the scale set's rolling policy C(maxBatchInstancePercent) when it has one, else 20 %.
    type: str
  pause_between_batches:
    description: Seconds to wait after a batch's health gate before the next batch starts.
    type: int
    default: 0
  max_unhealthy_percent:
    description:
      - Stop when more than this share of all the scale set's instances is unhealthy (0 to 100).
      - Default the rolling policy's C(maxUnhealthyInstancePercent), else 20.
    type: int
  max_unhealthy_upgraded_percent:
    description:
      - Stop when more than this share of the instances upgraded so far is unhealthy (0 to 100).
      - Default the rolling policy's C(maxUnhealthyUpgradedInstancePercent), else 20.
    type: int
  health_timeout:
    description: Seconds a batch's instances have to become healthy after their update ended.
    type: int
    default: 600
  order:
    description:
      - The order instances are upgraded in.
      - V(unhealthy_first) takes unhealthy and unknown instances first (upgrading them cannot make things worse), each
        group spread over zones and fault domains.
      - V(spread) takes them round-robin over zones and fault domains, so a batch takes as few instances of one zone or
        fault domain as it can.
      - V(name) follows the instance ids.
    type: str
    choices: [unhealthy_first, spread, name]
    default: unhealthy_first
"""

    EXTENSIONS = r"""
options:
  extensions:
    description:
      - A list of names of the scale set's model extensions to consider (for example V([HealthExtension])), compared
        without regard to case. Default all of them.
      - A name the model does not have fails the task. Anything but a non-empty list of strings (a single string
        included), or a name with C(/), C(\), C(?), C(#), C(<), C(>), C(%), C(&), C(:), C(*) or longer than 256
        characters, fails before any request.
    type: raw
notes:
  - "B(Which instances are outdated.) Azure has no call that says whether an extension rolling upgrade would change
    anything, so this is read and decided here, for each considered extension of the scale set's model (C(publisher),
    C(type), C(typeHandlerVersion) = C(major.minor), C(autoUpgradeMinorVersion))."
  - "The B(target version) is the highest version the versions catalog lists for that publisher and type in the scale
    set's location with the model's major version, and also its minor version when C(autoUpgradeMinorVersion) is false
    (or absent). Versions compare as integer tuples (C(2.1.10) is newer than C(2.1.9)); the catalog's order means
    nothing. When no version is listed the target is unknown and the extension cannot be outdated; its record says so in
    C(note)."
  - "An instance is B(outdated) for an extension when the full version its instance view reports (matched on the
    extension name, publisher and type compared without regard to case) is lower than the target. An instance that
    reports no version for it (deallocated, agent not ready, extension absent) is B(unknown): listed in
    C(unknown_instances), it does not by itself make the scale set outdated. The scale set is outdated when any instance
    is outdated for any considered extension."
  - "B(Uniform and Flexible scale sets.) The model's C(orchestrationMode) decides how the instances are read. A Uniform
    scale set's instances come from its VM list (C($expand=instanceView&$select=instanceView)) and are named by instance
    id (C(\"0\")). A Flexible scale set has no scale-set VM list: its instances are the virtual machines of its resource
    group whose C(virtualMachineScaleSet.id) is the scale set (C($filter='virtualMachineScaleSet/id' eq '<id>'),
    C($expand=instanceView)), named by VM name (C(vmss-web_1a2b3c4d)). Results say which: C(orchestration_mode) and
    C(instance_naming) (C(instance_id) or C(vm_name)), also on every extension record."
  - "Instances being created or deleted (a rolling upgrade with C(maxSurge) replaces each upgraded instance by a new one,
    under a new instance id or VM name) are listed in C(provisioning_instances): neither outdated nor unknown, and not
    counted in C(instance_count)."
  - "Cost per scale set: one read of the model, the pages of one VM list with instance views (an expensive read for
    Compute, never the per-instance instance view), and one read of the versions catalog per location, publisher and
    type per task run (cached)."
"""
