# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet rollout's run, decided before any request: rings, batches, run-wide settings, role variables, sources.

Pure functions: the action plugin ``fleet_preflight`` gathers the inventory facts (groups, the play's hosts, each
host's variables, the parsed inventory sources) and calls these. The playbook runs ONE ring play over the rings in
order, with ``serial`` the list of batch sizes worked out here, so Ansible's own batching rolls ring after ring
(a batch never spans two rings) and ``max_fail_percentage`` still stops the run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.azure_ops.rollout.plugins.module_utils import _report

# What an unringed scale set (in the scale set group, in no ring) does to the run.
UNRINGED = ("fail", "notrun")
# The run-wide settings (variable -> fleet_preflight option): one value for the run, the one every scale set sees
# (extra vars, the all group or the scale set group's vars); scale sets that see different values stop the run.
SETTING_OPTIONS = {"rollout_rings": "rings", "rollout_serial": "serial",
                   "rollout_max_fail_percentage": "max_fail_percentage", "rollout_allow_empty_rings": "allow_empty_rings",
                   "rollout_unringed": "unringed", "rollout_scale_sets_group": "scale_sets_group",
                   "rollout_report_dir": "report_dir", "rollout_report_name": "report_name"}
RUN_SETTINGS = tuple(SETTING_OPTIONS)
# Characters that would make a ring name an inventory pattern rather than a group.
_PATTERN_CHARS = re.compile(r"[\s,:!&*?\[\]~]")
# Shown for each problem that many hosts share: the first few names.
NAMES_SHOWN = 5


def plan(rings, inventory_groups, run_hosts, allow_empty=False, unringed="fail", scale_sets_group="vmss"):
    """(problems, plan): ``_report.plan_rings`` and the scale sets of ``scale_sets_group`` in no ring.

    Such a scale set would never be upgraded nor reported. The plan gets one more entry (``ring`` '', ``state``
    ``unringed``) whose hosts the report lists as NotRun; with ``unringed='fail'`` they are also a problem naming
    them. Without a ``scale_sets_group`` group in the inventory there is nothing to compare against.
    """
    problems = ["rollout_rings: ring %r is not an inventory group name (no spaces nor %s)" % (ring, ", ".join(":,!&*?[]~"))
                for ring in rings if not ring or _PATTERN_CHARS.search(ring)]
    more, entries = _report.plan_rings(rings, inventory_groups, run_hosts, allow_empty)
    problems += more
    ringed = set(host for entry in entries for host in entry["hosts"])
    stray = [host for host in inventory_groups.get(scale_sets_group) or [] if host not in ringed]
    if stray and ringed:
        # In the plan either way, so that a report (the refused run's too) lists them as NotRun.
        entries.append({"ring": "", "hosts": stray, "in_run": [], "state": "unringed",
                        "note": "in group %s but in no ring of rollout_rings" % scale_sets_group})
        if unringed != "notrun":
            problems.append("%d scale set(s) of group %s are in no ring of rollout_rings (%s): they would be neither "
                            "upgraded nor reported. Put them in a ring group, or set rollout_unringed=notrun to list "
                            "them as NotRun" % (len(stray), scale_sets_group, names(stray)))
    return problems, entries


def names(hosts, shown=NAMES_SHOWN):
    """``a, b, c and 4 more``."""
    hosts = list(hosts)
    return ", ".join(hosts[:shown]) + (" and %d more" % (len(hosts) - shown) if len(hosts) > shown else "")


def batch_size(serial, count):
    """Ansible's rule for one ``serial`` value over ``count`` hosts: N, or N% of them (at least 1); 0 for all."""
    text = str(serial).strip()
    if text.endswith("%"):
        return max(1, int(float(text[:-1]) / 100.0 * count))
    size = int(text)
    return count if size <= 0 else size


def serial_problem(serial):
    """None when ``serial`` is a whole number or a percentage, else why not (naming rollout_serial)."""
    text = str(serial).strip()
    if isinstance(serial, bool) or not re.match(r"^(\d+%?|\d+\.\d+%)$", text) or (
            text.endswith("%") and not 0 < float(text[:-1]) <= 100):
        return ("rollout_serial must be a number of scale sets (0 for a whole ring) or a percentage of each ring "
                "(1%% to 100%%), got %r" % (serial,))
    return None


def batches(entries, serial):
    """The play's ``serial`` list: each ring's hosts in this run cut into batches of ``serial``, ring after ring.

    Ansible batches the play's hosts (ring after ring, in the pattern's order) with these sizes, so no batch spans
    two rings. Empty when no ring has a host in this run.
    """
    sizes = []
    for entry in entries:
        count = len(entry["in_run"]) if entry["state"] == "run" else 0
        if not count:
            continue
        size = min(batch_size(serial, count), count)
        sizes += [size] * (count // size) + ([count % size] if count % size else [])
    return sizes


def batch_ring(entries, hosts):
    """The ring of a batch (every host of a batch is in the same ring), or ValueError saying what is wrong."""
    ring_of = dict((host, entry["ring"]) for entry in entries if entry["state"] == "run" for host in entry["in_run"])
    rings = sorted(set(ring_of.get(host) for host in hosts), key=str)
    if len(rings) != 1 or rings[0] is None:
        raise ValueError("the batch %s is not one ring of the plan (%s): run the batch step in the ring play of "
                         "vmss_extension_rollout.yml, after its preflight" % (names(hosts), ", ".join(map(str, rings))))
    return rings[0]


def percentage_problem(value):
    """None when ``value`` is a percentage 0..100 (rollout_max_fail_percentage), else why not."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if isinstance(value, bool) or number is None or not 0 <= number <= 100:
        return "rollout_max_fail_percentage must be a number from 0 to 100, got %r" % (value,)
    return None


# -- settings and role variables set where they would be ignored or are wrong -------------------------------------
RUN = "(this run)"


def collapse(found):
    """``{problem: [hosts]}`` -> one line per problem, naming its hosts (at most a few), or ``for the whole run``
    when the run's own variables (``RUN``: the extra vars, the all group) have it."""
    return ["%s (%s)" % (problem, "for the whole run" if RUN in hosts else names(hosts)) if hosts else problem
            for problem, hosts in found.items()]


def agreed_settings(host_values):
    """(values, {problem: [hosts]}): each run-wide setting the scale sets agree on, and those they do not.

    ``host_values``: host -> {name: value} of the settings each scale set sees (its host and group vars, the all group,
    the extra vars). A setting every scale set sees with one value is the run's (wherever it was set: -e, all, the
    scale set group); unset everywhere, it is left to the option's default. Scale sets that see different values
    (one ring group sets it) would each want another run: refused, naming the value and its hosts.
    """
    values, found = {}, {}
    for name in RUN_SETTINGS:
        seen = []
        for host in host_values:
            value = host_values[host].get(name, _UNSET)
            for entry in seen:
                if entry[0] == value:
                    entry[1].append(host)
                    break
            else:
                seen.append((value, [host]))
        if len(seen) == 1 and seen[0][0] is not _UNSET:
            values[name] = seen[0][0]
        elif len(seen) > 1:
            problem = ("%s differs between scale sets (%s): it is read once for the run, so set it for all of them "
                       "(-e, group_vars/all.yml or the scale set group's vars), not per ring or host"
                       % (name, "; ".join("%s on %s" % (_shown(value), names(hosts)) for value, hosts in seen)))
            found[problem] = []
    return values, found


_UNSET = object()


def _shown(value):
    return "unset" if value is _UNSET else repr(value)


def role_variable_problems(spec, prefix, values_by_host, validate):
    """(errors, unknown): role variables of a wrong type or choice, and names the role does not have.

    ``spec``: the role's argument spec options; ``values_by_host``: host -> {name: value} of the names starting
    with ``prefix``; ``validate(spec, values) -> [messages]`` checks types and choices (Ansible's validator).
    Both are {text: [hosts]}: a wrong value set for every host is one line, not one per host.
    """
    errors, unknown = {}, {}
    known = set(spec)
    for host, values in values_by_host.items():
        for name in sorted(set(values) - known):
            close = [option for option in sorted(known) if _close(name, option)]
            text = "%s is not a variable of the role vmss_extension_rollout%s" % (
                name, "; did you mean %s?" % " or ".join(close) if close else " (see its meta/argument_specs.yml)")
            unknown.setdefault(text, []).append(host)
        checked = dict((name, value) for name, value in values.items() if name in known)
        for message in validate(dict((name, spec[name]) for name in checked), checked):
            errors.setdefault(message, []).append(host)
    return errors, unknown


def _close(name, option):
    """``..._wait_timout`` is close to ``..._wait_timeout``: one letter added, dropped, changed or swapped."""
    if abs(len(name) - len(option)) > 1:
        return False
    import difflib  # pylint: disable=import-outside-toplevel

    return difflib.SequenceMatcher(None, name, option).ratio() >= 0.9


# -- inventory sources ---------------------------------------------------------------------------------------------
def failed_sources(sources, processed, skip=None, isdir=os.path.isdir, listdir=os.listdir):
    """The inventory sources (files, recursively in directories, as Ansible walks them) that no plugin parsed.

    ``sources``: ``ansible_inventory_sources``; ``processed``: the sources Ansible parsed; ``skip(entry)``: true for
    the directory entries Ansible skips (hidden, group_vars, ...). A host list (``a,b,``) counts as its own source; the
    default ``/etc/ansible/hosts`` is skipped when it does not exist, as Ansible does.
    """
    done = set(os.path.normpath(str(path)) if "," not in str(path) else str(path) for path in processed or ())
    failed = []

    def walk(source):
        if "," in source:
            if source not in done:
                failed.append(source)
            return
        path = os.path.normpath(os.path.abspath(os.path.expanduser(source)))
        if isdir(path):
            for entry in sorted(listdir(path)):
                if skip is None or not skip(entry):
                    walk(os.path.join(path, entry))
        elif path not in done and (path != "/etc/ansible/hosts" or os.path.exists(path)):
            failed.append(path)

    for source in sources or ():
        if source:
            walk(str(source))
    return failed
