# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet plans and reports: rings checked before any request, and the report a person reads after.

Pure functions over the records of ``_outcome``: the action plugins ``fleet_preflight`` and
``fleet_report`` only gather inventory facts, call these and write the files.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping
from html import escape

from ansible_collections.azure_ops.rollout.plugins.module_utils import _outcome
from ansible_collections.azure_ops.rollout.plugins.module_utils._vmss import parse_time

ZERO_SCALE_SETS = ("no scale set in the inventory for %s: the inventory source failed or matched nothing. Check the "
                   "inventory (ansible-inventory --graph); set ANSIBLE_INVENTORY_UNPARSED_FAILED=true (or "
                   "any_unparsed_is_failed in ansible.cfg) so that a source that cannot be read stops the run itself")
CHIP = {"Completed": "ok", "Current": "ok", "Skipped": "ok", "WouldStart": "plan", "WouldAttach": "plan", "WouldApprove": "plan",
        "RollingForward": "run", "Running": "run", "NeverUpgraded": "idle", "NotStarted": "idle", "NotRun": "idle"}
BAD_STATUSES = ("Faulted", "Error", "Failed", "Refused", "AwaitingApproval", "Cancelled", "TimedOut", "Interrupted")


# -- before any request --------------------------------------------------------------------------------------------
def plan_rings(rings, inventory_groups, run_hosts, allow_empty=False):
    """Check the rings against the inventory; return (problems, plan).

    ``inventory_groups`` maps a group to its hosts in the whole inventory (Ansible's ``groups``), ``run_hosts``
    are the hosts this run may touch (after ``--limit``). A ring with no host in the inventory is a mistake (a
    tag typo, an ``exclude_tags``) unless ``allow_empty``; a ring whose hosts ``--limit`` left out is a choice,
    planned as ``limited out``. No host in any ring means the inventory could not be read: always a problem.
    """
    problems, plan, ring_of = [], [], {}
    run_hosts = set(run_hosts or ())
    for ring in sorted(set(ring for ring in rings if list(rings).count(ring) > 1)):
        problems.append("rollout_rings names ring %s more than once: each ring play would upgrade it again" % ring)
    for ring in rings:
        members = list(inventory_groups.get(ring) or [])
        for host in members:
            if host in ring_of and ring_of[host] != ring:
                problems.append("%s is in two rings (%s and %s): each scale set must be in exactly one ring"
                                % (host, ring_of[host], ring))
            ring_of.setdefault(host, ring)
        in_run = [host for host in members if host in run_hosts]
        if not members and not allow_empty:
            problems.append("ring %s has no scale set in the inventory (a tag typo, an exclude_tags?); fix the inventory, "
                            "or set rollout_allow_empty_rings=true to roll out without it" % ring)
        state = "empty" if not members else ("run" if in_run else "limited out")
        plan.append({"ring": ring, "hosts": members, "in_run": in_run, "state": state})
    if not ring_of:
        problems = [ZERO_SCALE_SETS % ("the groups " + ", ".join(rings) if rings else "no group")]
    return problems, plan


# -- rollout report ------------------------------------------------------------------------------------------------
def stops_run(failed, batch_size, max_fail_percentage):
    """Ansible's own rule: a play stops when its failed share of a batch exceeds max_fail_percentage, or when the
    whole batch failed (ansible-playbook ends the run then, even with max_fail_percentage 100)."""
    return batch_size > 0 and (failed >= batch_size or failed * 100.0 / batch_size > float(max_fail_percentage))


def rollout_rows(plan, records, targets):
    """One row per scale set of every ring, in ring order: its record, or why it has none."""
    rows, seen = [], set()
    for entry in plan:
        for host in entry["hosts"]:
            if host in seen:
                continue  # a host in two rings (the preflight refuses that) is listed once, in its first ring
            seen.add(host)
            record = records.get(host)
            if record is None:
                target = dict(targets.get(host) or {"host": host, "name": host}, ring=entry["ring"])
                state = "NotStarted" if host in entry["in_run"] else "NotRun"
                record = _outcome.error_record(target, None, status=state)
            rows.append(dict(record, ring=entry["ring"]))
    return rows


def _names(rows, limit=10):
    names = [row["name"] or row["host"] for row in rows]
    return ", ".join(names[:limit]) + (" and %d more" % (len(names) - limit) if len(names) > limit else "")


def _unfinished_headline(rows, plan):
    """The headline of a run stopped (``Interrupted`` rows) or still at work (``Running`` rows), else None."""
    for status in ("Interrupted", "Running"):
        open_rows = [row for row in rows if row["status"] == status]
        if not open_rows:
            continue
        ring = open_rows[0]["ring"]
        in_azure = [row for row in open_rows if row.get("left_running")]
        # A model rollout between batches (a batch judged, none in flight) has nothing that may run in Azure.
        unsure = [row for row in open_rows if not row.get("left_running") and row.get("action") == "start"
                  and not row.get("check_mode") and not (row.get("model") or {}).get("batches")]
        rings = [entry["ring"] for entry in plan]
        later = [e["ring"] for e in plan[rings.index(ring) + 1:] if e["state"] == "run"] if ring in rings else []
        failed = [row for row in rows if row.get("failed") and row["status"] != "Interrupted"]
        so_far = " Failed so far: %s." % ", ".join("%s %s" % (row["name"] or row["host"], row["status"])
                                                   for row in failed[:10]) if failed else ""
        if status == "Interrupted":
            text = "Ring %s %s: %s." % (ring, _outcome.INTERRUPTED, _names(in_azure)) if in_azure else (
                "Ring %s interrupted before any upgrade of this run was running in Azure." % ring)
            if unsure:
                text += " A start was being sent for %s: it may be running in Azure; a re-run attaches if so." % (
                    _names(unsure))
            return text + so_far + (" Not started: %s." % ", ".join(later) if later else "")
        return ("Ring %s in progress: %d upgrade%s running in Azure%s. If this run is no longer running, they go on "
                "in Azure; a re-run attaches.%s" % (ring, len(in_azure), "" if len(in_azure) == 1 else "s",
                                                    " (%s)" % _names(in_azure) if in_azure else "", so_far))
    return None


def outcome(rows, check_mode=False):
    """``running``, ``interrupted``, ``failed`` or ``passed``: what the report's colour and ``passed`` say."""
    statuses = set(row["status"] for row in rows)
    if "Interrupted" in statuses:
        return "interrupted"
    if any(row.get("failed") for row in rows):
        return "failed"
    if "Running" in statuses:
        return "running"
    return "passed"


def headline(rows, plan, check_mode=False, max_fail_percentage=0):
    """What happened, in one sentence: which ring and scale set stopped the run, or how it went."""
    unfinished = _unfinished_headline(rows, plan)
    if unfinished:
        return unfinished
    for entry in plan:
        ring_rows = [row for row in rows if row["ring"] == entry["ring"]]
        failed = [row for row in ring_rows if row["failed"]]
        ran = [row for row in ring_rows if row["status"] not in ("NotStarted", "NotRun")]
        # Ansible judges max_fail_percentage per serial batch: the first batch of the ring that breaks it stops the run.
        batches = {}
        for row in ran:
            batches.setdefault(row.get("batch"), []).append(row)
        if failed and any(stops_run(len([row for row in group if row["failed"]]), len(group), max_fail_percentage)
                          for group in batches.values()):
            later = [e["ring"] for e in plan[plan.index(entry) + 1:] if e["state"] == "run"]
            first = failed[0]
            return "Stopped in ring %s: %s %s%s%s." % (
                entry["ring"], first["name"], first["status"],
                " (%s)" % first["error_code"] if first.get("error_code") else "",
                (" and %d more failed" % (len(failed) - 1)) if len(failed) > 1 else "") + (
                " Not started: %s." % ", ".join(later) if later else "")
    failed = [row for row in rows if row["failed"]]
    counts = tally(rows)
    text = ", ".join("%d %s" % (n, status) for status, n in counts.items())
    if failed:
        return "%d of %d scale sets failed (within max_fail_percentage %s%%): %s." % (
            len(failed), len(rows), max_fail_percentage, text)
    if check_mode:
        return "Check mode, nothing started: %s." % text
    return "%d scale sets: %s." % (len(rows), text)


def tally(rows):
    counts = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def failures(rows):
    """host -> message, for every row whose status is a failure (the hosts the play must fail)."""
    return dict((row["host"], row["msg"]) for row in rows if row.get("failed"))


def report(kind, title, rows, head, started_at, ended_at, check_mode=False, extra=None, result=None):
    """The report document (written as JSON, rendered as HTML).

    ``result``: ``passed``, ``failed``, ``running`` or ``interrupted`` (default: from the rows, ``outcome``, or for a
    status report the gate with its default statuses); the
    document's ``passed`` is true for ``passed`` only, and the page's colour follows it.
    """
    if result is None:
        result = ("failed" if _outcome.gate(rows) else "passed") if kind == "status" else outcome(rows, check_mode)
    document = {"kind": kind, "title": title, "headline": head, "run_started_at": started_at, "run_ended_at": ended_at,
                "time_zone": "UTC", "check_mode": bool(check_mode), "result": result, "passed": result == "passed",
                "summary": tally(rows),
                # What needs a look, failures first, one entry per identical problem (the HTML shows it on top).
                "attention": [{"status": status, "problem": problem, "count": len(group),
                               "hosts": [row["host"] for row in group]} for status, problem, group in attention(rows)],
                "rows": rows}
    document.update(extra or {})
    return document


# The host variables a rollout report reads (``rollout_document``'s ``hostvars``), besides ``result_var``/``error_var``.
# BATCH_VAR is the role's registered batch step result, which Ansible gives every host of the batch: a host's record is
# its ``results[host]`` (the role sets no fact per host).
BATCH_VAR = "vmss_extension_rollout__batch"
HOST_KEYS = ("vmss_name", "resource_group", "subscription_id", "vmss_extension_rollout_result",
             "vmss_extension_rollout_error")


def host_values(host, values, keys=HOST_KEYS, batch_var=BATCH_VAR, result_var="vmss_extension_rollout_result"):
    """What the rollout report reads of one host's variables (``values``: its hostvars): ``keys`` that are set, and
    its record (``result_var``) from the batch step's registered result ``batch_var`` when no fact holds it."""
    known = dict((key, values.get(key)) for key in keys if key != result_var and values.get(key) is not None)
    record = values.get(result_var) if result_var in values else None
    if not record:
        registered = values.get(batch_var) if batch_var in values else None
        results = registered.get("results") if isinstance(registered, Mapping) else None
        record = results.get(host) if isinstance(results, Mapping) else None
    if record:
        known[result_var] = record
    return known


def read_hosts(hosts, hostvars, templar=None):
    """host -> what the rollout report reads of it (``host_values``), from Ansible's ``hostvars``.

    Ansible templates a host variable whole at each access, and the batch step's registered result holds every record
    of its batch: read through ``hostvars`` for every host of a fleet of 2,000, that is minutes of templating. With
    ``templar`` (an action plugin's) and ``hostvars.raw_get``, each host's variables are read raw and only the few the
    report reads are templated, in that host's context; the registered result is a task's data, never a template."""
    raw_get = getattr(hostvars, "raw_get", None)
    known = {}
    for host in hosts:
        if templar is None or raw_get is None:
            known[host] = host_values(host, hostvars.get(host) or {})
            continue
        raw = raw_get(host)
        raw = raw if isinstance(raw, Mapping) else {}
        local = templar.copy_with_new_env(available_variables=raw)
        values = dict((key, local.template(raw[key])) for key in HOST_KEYS if key in raw)
        if BATCH_VAR in raw:
            values[BATCH_VAR] = raw[BATCH_VAR]
        known[host] = host_values(host, values)
    return known


# The rollout report's title by the batch step's kind (``_os_upgrade.KINDS``), when the run names none.
ROLLOUT_TITLES = {"extension": "VMSS extension rollout", "os": "VMSS OS image rollout", "model": "VMSS model rollout"}


def rollout_document(plan, hostvars, current=None, title=None, started_at=None, ended_at=None, check_mode=False,
                     max_fail_percentage=0, result_var="vmss_extension_rollout_result",
                     error_var="vmss_extension_rollout_error"):
    """The rollout report from the inventory: each host's record (the fact ``result_var`` set by an earlier batch,
    or the error ``error_var`` a ring play kept), overlaid with ``current`` (host -> record) of the batch at hand."""
    records, targets = {}, {}
    for entry in plan:
        for host in entry["hosts"]:
            values = host_values(host, hostvars.get(host) or {}, result_var=result_var)
            target = {"host": host, "name": values.get("vmss_name") or host, "resource_group": values.get("resource_group"),
                      "subscription_id": values.get("subscription_id"), "ring": entry["ring"]}
            targets[host] = target
            if values.get(result_var):
                records[host] = values[result_var]
            elif values.get(error_var):
                records[host] = _outcome.error_record(target, values[error_var])
    records.update(current or {})
    rows = rollout_rows(plan, records, targets)
    return report("rollout", title or ROLLOUT_TITLES["extension"], rows,
                  headline(rows, plan, check_mode, max_fail_percentage), started_at, ended_at, check_mode)


def report_paths(directory, name):
    """Where ``write`` puts the report: ``{"json": ..., "html": ...}``."""
    import os  # pylint: disable=import-outside-toplevel

    return {"json": os.path.join(directory, name + ".json"), "html": os.path.join(directory, name + ".html")}


def refused_document(plan, problems, hostvars, started_at, ended_at, check_mode=False, title=None):
    """The report of a run the preflight refused: every scale set of the plan ``NotStarted`` (or ``NotRun``), the
    problems in the headline and in ``problems``, ``result`` failed. Nothing was asked of Azure."""
    document = rollout_document(plan, dict((host, {"vmss_name": (hostvars.get(host) or {}).get("vmss_name"),
                                                   "resource_group": (hostvars.get(host) or {}).get("resource_group")})
                                           for entry in plan for host in entry["hosts"]),
                                None, title, started_at, ended_at, check_mode)
    head = "Not started, nothing was asked of Azure: " + "; ".join(problems)
    return dict(document, headline=head, result="failed", passed=False, problems=list(problems))


def write(directory, name, document):
    """Write ``<name>.json`` and ``<name>.html`` in ``directory`` (made when missing), each replaced at once."""
    import json  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel

    paths = report_paths(directory, name)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    for key, text in (("json", json.dumps(document, indent=2, sort_keys=True) + "\n"), ("html", html(document))):
        partial = paths[key] + ".tmp"
        with open(partial, "w") as handle:
            handle.write(text)
        os.rename(partial, paths[key])
    return paths


# -- status report -------------------------------------------------------------------------------------------------
def status_rows(records, rings, inventory_groups):
    """Status records with the ring of each scale set (the first ring group it belongs to, else '')."""
    ring_of = {}
    for ring in rings:
        for host in inventory_groups.get(ring) or []:
            ring_of.setdefault(host, ring)
    return [dict(record, ring=ring_of.get(record["host"], "")) for record in records]


def status_headline(rows, fail_on, fail_on_drift=False):
    """``Gate failed: 1 of 12 scale sets Faulted/Error (api-r1-weu-02). ...``, with the drift when it was read."""
    bad = _outcome.gate(rows, fail_on, fail_on_drift)
    what = "/".join(fail_on) + (" or outdated" if fail_on_drift else "")
    text = ", ".join("%d %s" % (n, status) for status, n in tally(rows).items())
    behind = [row for row in rows if row.get("outdated")]
    if any(row.get("outdated") is not None for row in rows):
        text += "; %d with %s (%d instances)" % (
            len(behind), drift_words(rows), sum(row.get("outdated_instance_count") or 0 for row in behind))
    if bad:
        names = ", ".join(row["name"] for row in bad[:10]) + (" and %d more" % (len(bad) - 10) if len(bad) > 10 else "")
        return "Gate failed: %d of %d scale sets %s (%s). %s." % (len(bad), len(rows), what, names, text)
    return "Gate passed: no scale set %s. %d scale sets: %s." % (what, len(rows), text)


def gate_failures(rows, fail_on, fail_on_drift=False):
    """host -> one line, for every status row that fails the gate (the hosts the gate fails, each its own)."""
    found = {}
    for row in _outcome.gate(rows, fail_on, fail_on_drift):
        if row["status"] in fail_on:
            why = ": ".join(part for part in (row["status"], row.get("error_code"), row.get("error_message") or (
                None if row.get("error_code") else row.get("msg"))) if part)
        else:
            why = "%s: %s" % (drift_words([row]), drift_text(row))
        found[row["host"]] = "Gate failed: %s (%s): %s" % (row["name"], row.get("resource_group"), why)
    return found


def drift_words(rows):
    """What the status rows' drift is of: ``outdated extensions`` or, when an OS image drift was read
    (``drift_kind``), ``an outdated OS image``, or for a model drift ``instances not on the latest model``."""
    kinds = set(row.get("drift_kind") for row in rows)
    if "model" in kinds:
        return "instances not on the latest model"
    return "an outdated OS image" if "os" in kinds else "outdated extensions"


def drift_text(row):
    """``HealthExtension 1.0.0 on 8 -> 1.0.9 (8 outdated)`` per outdated extension, or '' ."""
    if row.get("outdated") is None:
        return ""
    if not row.get("outdated"):
        return "current"
    return "; ".join("%s %s -> %s (%d outdated%s)" % (
        ext["name"], ", ".join("%s on %d" % item for item in sorted(ext["instance_versions"].items())),
        ext["target_version"], ext["outdated_instances"],
        ", %d unknown" % ext["unknown_instances"] if ext["unknown_instances"] else "")
        for ext in row.get("outdated_extensions") or [])


# -- text and HTML -------------------------------------------------------------------------------------------------
def attention(rows):
    """The rows that need a look (failed, interrupted, faulted, outdated) as ``[(status, problem, rows)]``: failures
    first, the scale sets with the very same problem together (``_outcome.groups``)."""
    bad = [row for row in rows
           if row.get("failed") or row["status"] in ("Faulted", "Error", "Interrupted") or row.get("outdated")]
    return _outcome.groups(bad, lambda row: _outcome.problem(row) or drift_text(row))


def text_lines(document, limit=20, width=220):
    """A short text summary for the play output: the headline, then the rows that need a look (failures first, then
    interrupted, faulted or outdated ones), scale sets with the very same problem on one line, at most ``limit`` lines,
    each cut between words at ``width`` characters."""
    lines = [document["headline"]]
    found = attention(document["rows"])
    for status, text, group in found[:limit]:
        rings = sorted(set(row["ring"] or "-" for row in group), key=[row["ring"] or "-" for row in group].index)
        if len(group) == 1:
            head = "  %-10s %-24s %-11s " % (rings[0], group[0]["name"] or group[0]["host"], status)
        else:
            head = "  %-10s %-24s %-11s " % (",".join(rings), "%d scale sets" % len(group), status)
            text = "%s: %s" % (_outcome.names(group, 5), text)
        lines.append(head + _outcome.shorten(text, max(40, width - len(head))))
    if len(found) > limit:
        lines.append("  ... and %d more, see the report" % sum(len(entry[2]) for entry in found[limit:]))
    return lines


def _instances(entry):
    return sum(entry.get(key) or 0 for key in ("succeeded", "failed", "in_progress", "pending"))


def progress_svg(timeline, elapsed, width=200, height=60):
    """A small picture of a record's timeline: instances upgraded (green) and failed (red, dashed) as shares of the
    scale set, over the time of its step (axis from 0 to its elapsed time), with a legend. Each observation is a
    dot, so one observation is a point, not an empty box. Azure's percentComplete counts failed instances as done,
    so it is not drawn: a faulting scale set must not rise in green."""
    points = [entry for entry in timeline or [] if entry.get("succeeded") is not None and _instances(entry)]
    if not points:
        return ""
    span = max(float(elapsed or 0), max(float(p.get("elapsed") or 0) for p in points), 1.0)
    total = max(_instances(p) for p in points)
    left, right, top, bottom = 4.0, width - 4.0, 14.0, height - 14.0

    def xy(entry, key):
        return (left + (right - left) * float(entry.get("elapsed") or 0) / span,
                bottom - (bottom - top) * float(entry.get(key) or 0) / total)

    series = []
    for key, colour, dash in (("succeeded", "#1a7f37", ""), ("failed", "#cf222e", ' stroke-dasharray="3 2"')):
        spots = [xy(p, key) for p in points]
        if len(spots) > 1:
            series.append('<polyline fill="none" stroke="%s" stroke-width="1.5"%s points="%s"/>' % (
                colour, dash, " ".join("%.1f,%.1f" % spot for spot in spots)))
        series.extend('<circle cx="%.1f" cy="%.1f" r="2" fill="%s"/>' % (x, y, colour) for x, y in spots)
    last = points[-1]
    text = '<text x="%.1f" y="%d" font-size="9" fill="%s"%s>%s</text>'
    return ('<svg class="spark" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">'
            '<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#f6f8fa" stroke="#d0d7de"/>%s%s%s%s%s</svg>'
            % (width, height, width, height,
               escape("%s of %s instances upgraded, %s failed, after %s" % (
                   last.get("succeeded"), _instances(last), last.get("failed") or 0, _outcome.duration(span))),
               left, top, right - left, bottom - top, "".join(series),
               text % (left, 10, "#1a7f37", "", "&#9679; upgraded %s" % last.get("succeeded")),
               text % (right, 10, "#cf222e", ' text-anchor="end"', "&#9679; failed %s" % (last.get("failed") or 0)),
               text % (left, height - 3, "#59636e", "", "0s"),
               text % (right, height - 3, "#59636e", ' text-anchor="end"', escape(_outcome.duration(span)))))


VERDICT_COLOURS = {"healthy": "#1a7f37", "unhealthy": "#cf222e", "unknown": "#9a6700"}


def batches_svg(model, elapsed, width=200, height=60):
    """A model rollout's picture (a record's ``model``): one bar per batch over the time of its step, as wide as the
    batch took and as high as its share of the scale set's instances, coloured by its health verdict (green healthy,
    red unhealthy, amber unknown), with the batch count and the instances left."""
    batches = (model or {}).get("batches") or []
    if not batches:
        return ""
    span = max(float(elapsed or 0), max(float(b.get("ended_at") or 0) for b in batches), 1.0)
    total = max(float(model.get("instance_count") or 0), max(float(b["instances"]) for b in batches), 1.0)
    left, right, top, bottom = 4.0, width - 4.0, 14.0, height - 14.0
    bars = []
    for entry in batches:
        start, end = float(entry.get("started_at") or 0), float(entry.get("ended_at") or 0)
        x = left + (right - left) * start / span
        bar_height = (bottom - top) * entry["instances"] / total
        bars.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>' % (
            x, bottom - bar_height, max(2.0, (right - left) * (end - start) / span), bar_height,
            VERDICT_COLOURS.get(entry.get("verdict"), "#59636e"),
            escape("batch %d: %d instances, %s" % (entry["batch"], entry["instances"], entry.get("verdict")))))
    left_count = len(model.get("remaining_instances") or [])
    text = '<text x="%.1f" y="%d" font-size="9" fill="%s"%s>%s</text>'
    return ('<svg class="spark" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">'
            '<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#f6f8fa" stroke="#d0d7de"/>%s%s%s%s%s</svg>'
            % (width, height, width, height, escape("%d batches, %d instances left, after %s" % (
                len(batches), left_count, _outcome.duration(span))),
               left, top, right - left, bottom - top, "".join(bars),
               text % (left, 10, "#1a7f37", "", "%d batch%s" % (len(batches), "" if len(batches) == 1 else "es")),
               text % (right, 10, "#59636e", ' text-anchor="end"', "%d left" % left_count),
               text % (left, height - 3, "#59636e", "", "0s"),
               text % (right, height - 3, "#59636e", ' text-anchor="end"', escape(_outcome.duration(span)))))


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1360px;color:#1f2328;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}.meta{color:#59636e;margin:0 0 14px}
.headline{padding:12px 16px;border-radius:8px;font-size:16px;font-weight:600;margin:0 0 16px;border:1px solid}
.headline.good{background:#dafbe1;border-color:#4ac26b}.headline.bad{background:#ffebe9;border-color:#ff8182}
.headline.plan{background:#ddf4ff;border-color:#54aeff}.headline.run{background:#fff8c5;border-color:#d4a72c}
.chips{margin:0 0 16px}.chip{display:inline-block;border-radius:12px;padding:2px 10px;margin:0 6px 6px 0;font-size:13px;font-weight:600}
.chip.ok{background:#dafbe1;color:#116329}.chip.bad{background:#ffebe9;color:#a40e26}.chip.run{background:#fff8c5;color:#7d4e00}
.chip.plan{background:#ddf4ff;color:#0a3069}.chip.idle{background:#eaeef2;color:#424a53}
table{border-collapse:collapse;width:100%;table-layout:fixed}th,td{border-bottom:1px solid #d0d7de;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:#59636e}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.err{font-size:12px;color:#a40e26;word-wrap:break-word}
td.err b.code{display:block;overflow-wrap:anywhere;font-weight:600}
td.name{font-weight:600;word-wrap:break-word}tr.ringhead td{background:#f6f8fa;font-weight:700;color:#424a53}
.small{font-size:12px;color:#59636e}svg.spark{display:block}
h2.attention{font-size:16px;margin:0 0 6px}table.attention{margin:0 0 20px}
"""


def _chip_kind(status, failed=False):
    return "bad" if failed or status in BAD_STATUSES else CHIP.get(status, "run")


def _chip(status, failed=False):
    return '<span class="chip %s">%s</span>' % (_chip_kind(status, failed), escape(status))


def html(document):
    """The report as one self-contained HTML page (no JavaScript, no external resource), readable at 1400 px."""
    rows = document["rows"]
    status_kind = document["kind"] == "status"
    result = document.get("result") or ("passed" if document.get("passed") else "failed")
    tone = {"passed": "plan" if document.get("check_mode") else "good", "running": "run"}.get(result, "bad")
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>%s</title><style>%s</style></head><body>" % (escape(document["title"]), _STYLE),
           "<h1>%s</h1>" % escape(document["title"]),
           '<p class="meta">Run started %s, ended %s (UTC)%s</p>' % (
               escape(str(document.get("run_started_at") or "-")), escape(str(document.get("run_ended_at") or "-")),
               ", check mode: nothing was started" if document.get("check_mode") else ""),
           '<p class="headline %s">%s</p>' % (tone, escape(document["headline"])),
           '<div class="chips">%s</div>' % "".join(
               '<span class="chip %s">%s: %d</span>' % (_chip_kind(status), escape(status), count)
               for status, count in document["summary"].items())]
    out.extend(_attention_html(rows))
    if status_kind:
        head = ("Scale set", "Status", "Done", "OK / failed / pending", "Started", "Last action", "Since start",
                "Extensions", "Error")
        widths = (13, 9, 5, 8, 11, 11, 7, 16, 20)
    else:
        head = ("Scale set", "Status", "Progress over time", "OK / failed / pending", "Versions", "Started in Azure (UTC)",
                "Elapsed", "Error")
        widths = (13, 10, 16, 8, 14, 11, 6, 22)
    out.append("<table><colgroup>%s</colgroup><thead><tr>%s</tr></thead><tbody>" % (
        "".join('<col style="width:%d%%">' % w for w in widths), "".join("<th>%s</th>" % escape(h) for h in head)))
    ring = object()
    for row in rows:
        if row.get("ring") != ring:
            ring = row.get("ring")
            out.append('<tr class="ringhead"><td colspan="%d">Ring %s</td></tr>' % (len(head), escape(ring or "(none)")))
        counts = "-" if row.get("succeeded") is None else "%s / %s / %s" % (
            row["succeeded"], row["failed_instances"], (row.get("pending") or 0) + (row.get("in_progress") or 0))
        error = " ".join(part for part in (row.get("error_code"), row.get("error_message")) if part) or (
            row.get("msg") if row.get("failed") or row["status"] == "Error" else "") or ""
        error += _outcome.unhealthy_suffix(row) if row.get("error_code") else ""
        name = '<td class="name">%s<div class="small">%s</div></td>' % (
            escape(row["name"] or row["host"]), escape(row.get("resource_group") or ""))
        if status_kind:
            percent = "-" if row.get("percent") is None else "%d%%" % round(row["percent"])
            cells = [name, "<td>%s</td>" % _chip(row["status"]), '<td class="num">%s</td>' % percent,
                     '<td class="num">%s</td>' % counts,
                     _when(row.get("start_time"), full=True),
                     '<td class="small" title="%s">%s<br>%s</td>' % (
                         escape(row.get("last_action_time") or ""), escape(row.get("last_action") or "-"),
                         escape(_stamp(row.get("last_action_time")))),
                     '<td class="num">%s</td>' % _outcome.duration(row.get("elapsed")),
                     '<td class="small">%s</td>' % escape(drift_text(row) or "-"),
                     _error_cell(row.get("error_code"), error)]
        else:
            extra = []
            if row.get("action") == "start" and row.get("upgrade_started"):
                extra.append("started by this run")
            elif row.get("action") == "attach":
                extra.append("attached: started by someone else")
            elif row.get("action") == "approve":
                extra.append("approved by this run: the platform's deferred upgrade")
            if row.get("refused_by"):
                extra.append("refused by %s" % row["refused_by"])
            if row.get("cancelled"):
                extra.append("cancelled")
            if row.get("left_running"):
                extra.append("still running in Azure")
            cells = [name, "<td>%s%s</td>" % (_chip(row["status"], row.get("failed")),
                                              '<div class="small">%s</div>' % escape(", ".join(extra)) if extra else ""),
                     "<td>%s</td>" % (progress_svg(row.get("timeline"), row.get("elapsed")) or
                                      batches_svg(row.get("model"), row.get("elapsed")) or
                                      '<span class="small">%s</span>' % escape(_no_picture(row))),
                     '<td class="num">%s</td>' % counts,
                     '<td class="small">%s</td>' % escape(_outcome.versions_text(row) or "-"),
                     _when(row.get("start_time"), full=True),
                     '<td class="num">%s</td>' % _outcome.duration(row.get("elapsed")),
                     _error_cell(row.get("error_code"), error)]
        out.append("<tr>%s</tr>" % "".join(cells))
    out.append("</tbody></table></body></html>")
    return "\n".join(out)


def _attention_html(rows, limit=50):
    """The table on top: what needs a look, failures first, each identical problem once with its scale sets."""
    found = attention(rows)
    if not found:
        return []
    count = sum(len(entry[2]) for entry in found)
    out = ['<h2 class="attention">Needs a look (%d scale set%s)</h2>' % (count, "" if count == 1 else "s"),
           '<table class="attention"><colgroup><col style="width:10%"><col style="width:6%"><col style="width:30%">'
           '<col style="width:54%"></colgroup><thead><tr><th>Status</th><th>Scale sets</th><th>Which</th><th>Problem</th>'
           '</tr></thead><tbody>']
    for status, problem, group in found[:limit]:
        out.append('<tr><td>%s</td><td class="num">%d</td><td class="small">%s</td><td class="err">%s</td></tr>' % (
            _chip(status, group[0].get("failed")), len(group), escape(_outcome.names(group, 12)), escape(problem or "")))
    if len(found) > limit:
        out.append('<tr><td colspan="4" class="small">... and %d more problems, in the rows below</td></tr>'
                   % (len(found) - limit))
    out.append("</tbody></table>")
    return out


def _stamp(stamp, full=True):
    """``2026-11-30 00:54:56`` (or ``00:54:56``) from an ISO 8601 stamp in UTC (Azure's has 7 fractional digits)."""
    when = parse_time(stamp) if stamp else None
    if when is None:
        return stamp or ""
    return when.strftime("%Y-%m-%d %H:%M:%S" if full else "%H:%M:%S")


def _when(stamp, full=False):
    """A table cell with a short UTC time, the whole stamp in its tooltip."""
    if not stamp:
        return '<td class="small">-</td>'
    return '<td class="small" title="%s">%s</td>' % (escape(stamp), escape(_stamp(stamp, full)))


def _error_cell(code, text):
    """Azure's code in bold on its own line (it may break anywhere), then the message."""
    if not code:
        return '<td class="err">%s</td>' % escape(text or "")
    message = text[len(code):].strip() if text and text.startswith(code) else (text or "")
    return '<td class="err"><b class="code">%s</b>%s</td>' % (escape(code), escape(message))


def _no_picture(row):
    return {"NotRun": "not in this run (--limit)", "NotStarted": "not started", "Current": "nothing to do",
            "Skipped": "completed recently"}.get(row["status"], "no progress seen")
