# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: vmss
short_description: Azure VM scale sets as inventory hosts
version_added: 1.0.0
description:
  - Lists the virtual machine scale sets of one or more subscriptions through Azure Resource Manager (paged and
    retried, with the same client and authentication options as the modules of the collection) and makes each scale set
    an inventory host, for example for the P(azure_ops.rollout.vmss_extension_rollout#role) role.
  - Host variables are C(subscription_id), C(resource_group), C(vmss_name), C(location), C(vmss_tags), C(capacity),
    C(sku), C(upgrade_policy) (C(mode) and C(rolling_upgrade_policy), snake_case), C(provisioning_state) and
    C(orchestration_mode) (C(Uniform) or C(Flexible); a scale set whose model does not say is C(Uniform)).
  - Flexible scale sets are listed like Uniform ones (the same scale set list); the modules of the collection name their
    instances by VM name rather than instance id (see M(azure_ops.rollout.vmss_extension_info)).
  - Groups come from O(keyed_groups), O(groups) and O(compose) (for example a group per C(ring) tag and per location).
  - The scale set's Azure tags are the host variable C(vmss_tags) (for example C(vmss_tags.ring)), not C(tags), which is
    a name Ansible reserves and warns about on every run.
  - All or nothing. Hosts are added only once every page of every subscription was read; any failure (a wrong secret, a
    subscription that does not exist, Azure throttling for longer than O(list_timeout) allows) fails this inventory
    source with Azure's code and message, never leaving a partial inventory. Set
    E(ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED=true) so that such a failure also stops C(ansible-playbook) instead of
    leaving it with an empty inventory and a warning.
  - Under Azure's rate limits (scale set lists count against Compute's C(HighCostGet) bucket and Resource Manager's read
    bucket of each subscription) the pages are paced from the published budgets and the remaining counts Azure
    reports, and a 429 is waited out within O(list_timeout).
  - The configuration file name must end with C(azure_vmss.yml) or C(azure_vmss.yaml).
author:
  - Azure Ops rollout maintainers (@azure-ops)
extends_documentation_fragment:
  - azure_ops.rollout.azure
  - constructed
  - inventory_cache
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    type: str
    required: true
    choices: [azure_ops.rollout.vmss]
  subscriptions:
    description:
      - Subscriptions to list. Defaults to O(subscription_id) (or E(AZURE_SUBSCRIPTION_ID)).
    type: list
    elements: str
  resource_groups:
    description: Only scale sets of these resource groups (case-insensitive). Listed per resource group when set.
    type: list
    elements: str
  include_tags:
    description:
      - Only scale sets that have all these tags. A value V(null) (or C(*)) matches any value of the tag.
    type: dict
  exclude_tags:
    description:
      - Leave out scale sets that have any of these tags. A value V(null) (or C(*)) matches any value of the tag.
    type: dict
  hostnames:
    description:
      - V(name) names each host after its scale set. V(rg_name) uses C({resource_group}-{name}), for fleets where two
        resource groups hold scale sets of the same name.
    type: str
    choices: [name, rg_name]
    default: name
  api_version:
    description: Compute API version used to list the scale sets.
    type: str
    default: '2024-07-01'
  list_timeout:
    description:
      - Seconds the whole listing may take, waiting out Azure's throttling included (Compute may ask for 20 minutes). A
        throttle whose C(Retry-After) reaches past it fails the inventory at once, naming the policy.
    type: int
    default: 1800
"""

EXAMPLES = r"""
# demo.azure_vmss.yml: hosts per scale set, a group per ring tag and per location
plugin: azure_ops.rollout.vmss
subscriptions:
  - 00000000-0000-0000-0000-000000000001
resource_groups: [rg-web, rg-api]
exclude_tags:
  rollout: skip
keyed_groups:
  - key: vmss_tags.ring | default('unringed')
    prefix: ''
    separator: ''
  - key: location
    prefix: location
groups:
  vmss: true
compose:
  ansible_connection: "'local'"
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/azure_vmss_inventory
cache_timeout: 600
"""

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.azure_ops.rollout.plugins.module_utils import _auth, _shapes, _validation, _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline


def tags_match(tags, wanted, any_of=False):
    """Whether ``tags`` carry the ``wanted`` tags (all of them, or any when ``any_of``). None/'*' values match anything."""
    if not wanted:
        return not any_of
    tags = tags or {}

    def one(key, value):
        if key not in tags:
            return False
        return value is None or str(value) == "*" or str(tags[key]) == str(value)

    results = [one(key, value) for key, value in wanted.items()]
    return any(results) if any_of else all(results)


def host_vars(item):
    """The host variables of one scale set body."""
    props = item.get("properties") or {}
    subscription_id, resource_group = _vmss.id_scope(item.get("id"))
    policy = props.get("upgradePolicy") or {}
    upgrade_policy = {"mode": policy.get("mode")}
    if policy.get("rollingUpgradePolicy") is not None:
        upgrade_policy["rolling_upgrade_policy"] = _shapes.snake_keys(policy["rollingUpgradePolicy"])
    if policy.get("automaticOSUpgradePolicy") is not None:
        upgrade_policy["automatic_os_upgrade_policy"] = _shapes.snake_keys(policy["automaticOSUpgradePolicy"])
    sku = item.get("sku") or {}
    return {
        "subscription_id": subscription_id,
        "resource_group": resource_group,
        "vmss_name": item.get("name"),
        "vmss_id": item.get("id"),
        "location": item.get("location"),
        "vmss_tags": dict(item.get("tags") or {}),
        "sku": sku.get("name"),
        "capacity": sku.get("capacity"),
        "upgrade_policy": upgrade_policy,
        "provisioning_state": props.get("provisioningState"),
        "orchestration_mode": _vmss.orchestration_mode(item),
    }


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = "azure_ops.rollout.vmss"

    def verify_file(self, path):
        if super(InventoryModule, self).verify_file(path):
            return path.endswith(("azure_vmss.yml", "azure_vmss.yaml"))
        return False

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)

        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        items = None
        if use_cache:
            try:
                items = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if items is None:
            items = self._list()
        if update_cache:
            self._cache[cache_key] = items
        self._populate(items)

    def _auth_options(self):
        options = {}
        for name in _auth.OPTION_NAMES:
            try:
                value = self.get_option(name)
            except KeyError:
                continue
            if value is not None:
                options[name] = value
        options = _auth.options_from_env(options)
        if options.get("validate_certs") is None:
            options["validate_certs"] = True
        if not options.get("ca_path"):
            options.pop("ca_path", None)
        return options

    def _list(self):
        """Every scale set of the configured subscriptions (and resource groups), as slim JSON-able dicts."""
        from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient

        options = self._auth_options()
        subscriptions = self.get_option("subscriptions") or ([options["subscription_id"]] if options.get("subscription_id") else [])
        if not subscriptions:
            raise AnsibleParserError("azure_ops.rollout.vmss: set subscriptions, subscription_id or AZURE_SUBSCRIPTION_ID")
        groups = self.get_option("resource_groups") or [None]
        problem = _validation.Range(1, 86400).problem(self.get_option("list_timeout"))
        if problem:
            raise AnsibleParserError("azure_ops.rollout.vmss: list_timeout %s" % problem)
        items = []
        try:
            client = AzureClient(options)
            deadline = Deadline(self.get_option("list_timeout"), client.clock)
            for sub in subscriptions:
                for group in groups:
                    for item in _vmss.list_scale_sets(client, sub, group, api_version=self.get_option("api_version"),
                                                      deadline=deadline):
                        items.append({key: item.get(key) for key in ("id", "name", "location", "tags", "sku", "properties")})
        except AzureError as error:
            raise AnsibleError("azure_ops.rollout.vmss: listing scale sets failed, no host added: %s" % to_native(error))
        return items

    def _populate(self, items):
        strict = self.get_option("strict")
        include = self.get_option("include_tags") or {}
        exclude = self.get_option("exclude_tags") or {}
        groups = [g.lower() for g in self.get_option("resource_groups") or []]
        naming = self.get_option("hostnames")
        for item in items:
            hv = host_vars(item)
            if groups and (hv["resource_group"] or "").lower() not in groups:
                continue
            if include and not tags_match(hv["vmss_tags"], include):
                continue
            if exclude and tags_match(hv["vmss_tags"], exclude, any_of=True):
                continue
            name = hv["vmss_name"] if naming == "name" else "%s-%s" % (hv["resource_group"], hv["vmss_name"])
            host = self.inventory.add_host(name)
            for key, value in hv.items():
                self.inventory.set_variable(host, key, value)
            self._set_composite_vars(self.get_option("compose"), hv, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), hv, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hv, host, strict=strict)
