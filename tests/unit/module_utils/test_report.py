# -*- coding: utf-8 -*-
"""_report: rings checked before any request, report rows, the headline, and the HTML page."""

import re
from html import escape
from html.parser import HTMLParser

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _outcome, _report, _shapes

FAULT_CODE = "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"
GROUPS = {"canary": ["c1", "c2"], "ring1": ["r1a", "r1b", "r1c"], "ring2": ["r2a"], "all": ["c1", "c2", "r1a"]}
RINGS = ["canary", "ring1", "ring2"]
ALL_HOSTS = ["c1", "c2", "r1a", "r1b", "r1c", "r2a"]


def target(host, ring=None, name=None, rg="rg-web"):
    return {"host": host, "name": name or "vmss-" + host, "resource_group": rg,
            "subscription_id": "00000000-0000-0000-0000-000000000001", "ring": ring}


def shaped(code, succeeded, failed, in_progress, pending, error=None):
    props = {"runningStatus": {"code": code, "startTime": "2026-11-30T00:10:00.0000000+00:00", "lastAction": "Start",
                               "lastActionTime": "2026-11-30T00:10:00.0000000+00:00"},
             "progress": {"successfulInstanceCount": succeeded, "failedInstanceCount": failed,
                          "inProgressInstanceCount": in_progress, "pendingInstanceCount": pending}}
    if error:
        props["error"] = error
    return _shapes.rolling_upgrade({"properties": props})


def timeline(*steps):
    return [dict(_shapes.progress_summary(step), elapsed=30.0 * index) for index, step in enumerate(steps)]


def completed(host, ring, name=None):
    last = shaped("Completed", 10, 0, 0, 0)
    res = {"action": "start", "upgrade_started": True, "rolling_upgrade": last,
           "timeline": timeline(shaped("RollingForward", 0, 0, 2, 8), shaped("RollingForward", 6, 0, 2, 2), last)}
    return _outcome.rollout_record(target(host, ring, name), res, elapsed=95.0, started_at="2026-11-30T00:10:00+00:00")


def faulted(host, ring, name=None, message="2 of 2 upgraded instances unhealthy"):
    last = shaped("Faulted", 0, 2, 0, 8, error={"code": FAULT_CODE, "message": message})
    res = {"action": "start", "upgrade_started": True, "rolling_upgrade": last,
           "timeline": timeline(shaped("RollingForward", 0, 0, 2, 8), last)}
    return _outcome.rollout_record(target(host, ring, name), res, {"msg": "Rolling upgrade Faulted", "error": None},
                                   elapsed=61.0)


def planned(host, ring, action="start"):
    return _outcome.rollout_record(target(host, ring), {"action": action}, check_mode=True, elapsed=0.3)


# -- plan_rings ------------------------------------------------------------------------------------------------------
def test_plan_of_a_good_inventory():
    problems, plan = _report.plan_rings(RINGS, GROUPS, ALL_HOSTS)
    assert problems == []
    assert [(e["ring"], e["hosts"], e["in_run"], e["state"]) for e in plan] == [
        ("canary", ["c1", "c2"], ["c1", "c2"], "run"), ("ring1", ["r1a", "r1b", "r1c"], ["r1a", "r1b", "r1c"], "run"),
        ("ring2", ["r2a"], ["r2a"], "run")]


@pytest.mark.parametrize("groups", [{}, {"canary": [], "ring1": [], "ring2": []}, {"ungrouped": ["x"]}])
@pytest.mark.parametrize("allow_empty", [False, True])
def test_zero_scale_sets_always_fails(groups, allow_empty):
    problems = _report.plan_rings(RINGS, groups, [], allow_empty=allow_empty)[0]
    assert len(problems) == 1
    assert "no scale set in the inventory for the groups canary, ring1, ring2" in problems[0]
    assert "ANSIBLE_INVENTORY_UNPARSED_FAILED" in problems[0]


def test_no_ring_at_all_fails():
    problems, plan = _report.plan_rings([], GROUPS, ALL_HOSTS)
    assert plan == [] and problems == [_report.ZERO_SCALE_SETS % "no group"]


def test_an_empty_ring_fails_unless_allowed():
    groups = dict(GROUPS, ring1=[])
    problems, plan = _report.plan_rings(RINGS, groups, ALL_HOSTS)
    assert len(problems) == 1 and problems[0].startswith("ring ring1 has no scale set in the inventory")
    assert "rollout_allow_empty_rings=true" in problems[0]
    problems, plan = _report.plan_rings(RINGS, groups, ALL_HOSTS, allow_empty=True)
    assert problems == [] and plan[1]["state"] == "empty" and plan[1]["hosts"] == []


def test_a_missing_ring_group_is_an_empty_ring():
    problems = _report.plan_rings(["canary", "ring9"], GROUPS, ALL_HOSTS)[0]
    assert problems and "ring ring9" in problems[0]


def test_a_host_in_two_rings_fails():
    groups = dict(GROUPS, ring2=["r2a", "c2"])
    problems = _report.plan_rings(RINGS, groups, ALL_HOSTS, allow_empty=True)[0]
    assert problems == ["c2 is in two rings (canary and ring2): each scale set must be in exactly one ring"]


def test_a_ring_named_twice_fails():
    # Each ring play upgrades its ring: a ring named twice would be upgraded twice.
    problems = _report.plan_rings(["canary", "ring1", "canary"], GROUPS, ALL_HOSTS)[0]
    assert len(problems) == 1 and "canary" in problems[0] and "more than once" in problems[0]


def test_a_ring_left_out_by_limit_is_planned_as_limited_out():
    problems, plan = _report.plan_rings(RINGS, GROUPS, ["c1", "c2", "r2a"])
    assert problems == []
    assert [e["state"] for e in plan] == ["run", "limited out", "run"]
    assert plan[1]["in_run"] == [] and plan[1]["hosts"] == ["r1a", "r1b", "r1c"]
    # A ring partly limited out still runs, with only the hosts of the run.
    plan = _report.plan_rings(RINGS, GROUPS, ["c1", "r1b"])[1]
    assert plan[0]["in_run"] == ["c1"] and plan[1]["in_run"] == ["r1b"] and plan[2]["state"] == "limited out"


# -- stops_run: Ansible's max_fail_percentage rule -------------------------------------------------------------------
@pytest.mark.parametrize("failed, size, percentage, stops", [
    (0, 10, 0, False), (1, 10, 0, True), (1, 10, 10, False), (2, 10, 10, True), (2, 4, 50, False), (3, 4, 50, True),
    (1, 3, 33.4, False), (1, 3, 33.3, True), (0, 0, 0, False),
    # ansible-playbook also stops a play whose whole batch failed, whatever max_fail_percentage says.
    (4, 4, 100, True), (1, 1, 100, True), (3, 4, 100, False),
])
def test_stops_run(failed, size, percentage, stops):
    assert _report.stops_run(failed, size, percentage) is stops


# -- rows and headline -----------------------------------------------------------------------------------------------
def _targets():
    return dict((host, target(host)) for host in ALL_HOSTS)


def test_rollout_rows_not_started_versus_not_run():
    plan = _report.plan_rings(RINGS, GROUPS, ["c1", "c2", "r1a", "r1b", "r1c"])[1]
    records = {"c1": completed("c1", "canary"), "c2": faulted("c2", "canary")}
    rows = _report.rollout_rows(plan, records, _targets())
    assert [(r["host"], r["ring"], r["status"]) for r in rows] == [
        ("c1", "canary", "Completed"), ("c2", "canary", "Faulted"), ("r1a", "ring1", "NotStarted"),
        ("r1b", "ring1", "NotStarted"), ("r1c", "ring1", "NotStarted"), ("r2a", "ring2", "NotRun")]
    assert not any(r["failed"] for r in rows[2:])
    assert rows[5]["name"] == "vmss-r2a" and rows[5]["resource_group"] == "rg-web"
    # A host the report knows nothing about still gets a row named after it.
    rows = _report.rollout_rows(plan, {}, {})
    assert rows[0]["name"] == "c1" and rows[0]["status"] == "NotStarted"


def test_headline_names_the_ring_the_scale_set_the_code_and_the_later_rings():
    plan = _report.plan_rings(RINGS, GROUPS, ALL_HOSTS)[1]
    records = {"c1": completed("c1", "canary"), "c2": faulted("c2", "canary")}
    rows = _report.rollout_rows(plan, records, _targets())
    assert _report.headline(rows, plan) == (
        "Stopped in ring canary: vmss-c2 Faulted (%s). Not started: ring1, ring2." % FAULT_CODE)
    assert _report.failures(rows) == {"c2": records["c2"]["msg"]}


def test_headline_counts_more_failures_and_skips_limited_out_rings():
    plan = _report.plan_rings(RINGS, GROUPS, ["c1", "c2", "r1a", "r1b", "r1c"])[1]
    records = {"c1": completed("c1", "canary"), "c2": completed("c2", "canary"),
               "r1a": faulted("r1a", "ring1"), "r1b": faulted("r1b", "ring1"), "r1c": completed("r1c", "ring1")}
    rows = _report.rollout_rows(plan, records, _targets())
    assert _report.headline(rows, plan, max_fail_percentage=50) == (
        "Stopped in ring ring1: vmss-r1a Faulted (%s) and 1 more failed." % FAULT_CODE)


def test_headline_failures_tolerated():
    plan = _report.plan_rings(RINGS, GROUPS, ALL_HOSTS)[1]
    records = dict((host, completed(host, "x")) for host in ALL_HOSTS)
    records["r1b"] = faulted("r1b", "ring1")
    rows = _report.rollout_rows(plan, records, _targets())
    assert _report.headline(rows, plan, max_fail_percentage=50) == (
        "1 of 6 scale sets failed (within max_fail_percentage 50%): 5 Completed, 1 Faulted.")


def test_headline_in_check_mode():
    plan = _report.plan_rings(RINGS, GROUPS, ALL_HOSTS)[1]
    records = dict((host, planned(host, "x")) for host in ALL_HOSTS)
    records["r2a"] = planned("r2a", "ring2", "attach")
    rows = _report.rollout_rows(plan, records, _targets())
    assert _report.headline(rows, plan, check_mode=True) == "Check mode, nothing started: 5 WouldStart, 1 WouldAttach."


def test_headline_all_fine():
    plan = _report.plan_rings(RINGS, GROUPS, ["c1", "c2"])[1]
    rows = _report.rollout_rows(plan, {"c1": completed("c1", "canary"), "c2": completed("c2", "canary")}, _targets())
    assert _report.headline(rows, plan) == "6 scale sets: 2 Completed, 4 NotRun."


def test_text_lines_list_the_failed_rows_up_to_a_limit():
    plan = _report.plan_rings(["canary"], {"canary": ["h%d" % i for i in range(5)]}, ["h%d" % i for i in range(5)])[1]
    records = dict(("h%d" % i, faulted("h%d" % i, "canary", message="instance %d unhealthy" % i)) for i in range(5))
    rows = _report.rollout_rows(plan, records, {})
    document = _report.report("rollout", "t", rows, _report.headline(rows, plan), "a", "b")
    lines = _report.text_lines(document, limit=3)
    assert lines[0] == document["headline"] and len(lines) == 5 and lines[-1] == "  ... and 2 more, see the report"
    assert "vmss-h0" in lines[1] and "Faulted" in lines[1]


# -- status report ---------------------------------------------------------------------------------------------------
def _status(host, code=None, error=None):
    latest = shaped(code, 3, 2 if error else 0, 0, 5, error=error) if code else None
    return _outcome.status_record(target(host), latest)


def test_status_rows_and_headline():
    records = [_status("c1", "Completed"), _status("r1a", "Faulted", {"code": FAULT_CODE, "message": "m"}),
               _status("x9")]
    rows = _report.status_rows(records, RINGS, GROUPS)
    assert [(r["host"], r["ring"]) for r in rows] == [("c1", "canary"), ("r1a", "ring1"), ("x9", "")]
    assert _report.status_headline(rows, ("Faulted", "Error")) == (
        "Gate failed: 1 of 3 scale sets Faulted/Error (vmss-r1a). 1 Completed, 1 Faulted, 1 NeverUpgraded.")
    assert _report.status_headline(rows[:1], ("Faulted", "Error")) == (
        "Gate passed: no scale set Faulted/Error. 1 scale sets: 1 Completed.")
    many = [_status("h%02d" % i, "Faulted", {"code": FAULT_CODE, "message": "m"}) for i in range(12)]
    assert "vmss-h09 and 2 more)" in _report.status_headline(many, ("Faulted",))


# -- HTML ------------------------------------------------------------------------------------------------------------
class Page(HTMLParser):
    """The parts of the page the tests look at: body rows, ring header rows, SVGs, scripts, the visible text."""

    VOID = ("meta", "col", "br", "rect", "polyline", "circle", "link", "img", "input")

    def __init__(self):
        HTMLParser.__init__(self, convert_charrefs=True)
        self.stack, self.rows, self.text, self.scripts, self.problems = [], [], [], 0, []
        self.in_tbody = False
        self.in_attention = False
        self.columns = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for value in attrs.values():
            if value and ("http://" in value or "https://" in value or "javascript:" in value):
                self.problems.append("external reference %s=%s" % (tag, value))
        if tag == "table":
            self.in_attention = attrs.get("class") == "attention"   # the summary on top, not the rows
        if tag == "tbody" and not self.in_attention:
            self.in_tbody = True
        if tag == "th" and not self.in_attention:
            self.columns += 1
        if tag == "tr" and self.in_tbody:
            self.rows.append({"class": attrs.get("class"), "svg": 0, "cells": 0, "text": []})
        if self.rows and self.in_tbody:
            if tag == "svg":
                self.rows[-1]["svg"] += 1
            if tag == "td":
                self.rows[-1]["cells"] += 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append("unbalanced </%s> (open: %s)" % (tag, self.stack[-3:]))
            return
        self.stack.pop()
        if tag == "tbody":
            self.in_tbody = False

    def handle_data(self, data):
        self.text.append(data)
        if self.rows and self.in_tbody:
            self.rows[-1]["text"].append(data)


def parse(text):
    page = Page()
    page.feed(text)
    page.close()
    assert page.problems == [] and page.stack == [], (page.problems, page.stack)
    return page


def test_rollout_page_has_a_row_per_scale_set_ring_headers_and_pictures():
    plan = _report.plan_rings(RINGS, GROUPS, ["c1", "c2", "r1a", "r1b", "r1c"])[1]
    records = {"c1": completed("c1", "canary"), "c2": faulted("c2", "canary")}
    rows = _report.rollout_rows(plan, records, _targets())
    document = _report.report("rollout", "Rollout of web", rows, _report.headline(rows, plan),
                              "2026-11-30T00:09:58+00:00", "2026-11-30T00:12:00+00:00")
    page = parse(_report.html(document))
    heads = [row for row in page.rows if row["class"] == "ringhead"]
    body = [row for row in page.rows if row["class"] != "ringhead"]
    assert ["".join(row["text"]).strip() for row in heads] == ["Ring canary", "Ring ring1", "Ring ring2"]
    assert len(body) == len(rows) == 6 and all(row["cells"] == page.columns for row in body) and page.columns >= 6
    assert [row["svg"] for row in body] == [1, 1, 0, 0, 0, 0]  # a picture where a timeline exists
    text = " ".join(page.text)
    assert document["headline"] in text and "2026-11-30T00:09:58+00:00" in text
    assert "not in this run (--limit)" in text and "not started" in text
    assert page.scripts == 0


def test_every_user_provided_text_is_escaped():
    evil = "<script>alert('x')</script> & <b>"
    name = 'vmss-<script>"&'
    records = {"c1": faulted("c1", "canary", name=name, message=evil), "c2": completed("c2", "canary")}
    plan = _report.plan_rings(["canary"], {"canary": ["c1", "c2"]}, ["c1", "c2"])[1]
    rows = _report.rollout_rows(plan, records, {})
    rows[1]["resource_group"] = "rg-<i>&"
    rows[1]["started_at"] = "<img src=x onerror=alert(1)>"
    document = _report.report("rollout", "Rollout <script>&", rows, _report.headline(rows, plan), "<now>", None)
    text = _report.html(document)
    page = parse(text)
    assert page.scripts == 0 and "<script" not in text.lower() and "<img" not in text and "<b>" not in text
    visible = "".join(page.text)
    assert evil in visible and name in visible and "rg-<i>&" in visible and "Rollout <script>&" in visible
    assert "&amp; &lt;b&gt;" in text
    # The ring name comes from the inventory too.
    rows = [dict(rows[1], ring="<ring&>")]
    text = _report.html(_report.report("rollout", "t", rows, "h", None, None))
    assert "Ring &lt;ring&amp;&gt;" in text and parse(text).scripts == 0


def test_the_page_loads_nothing_from_elsewhere():
    rows = _report.rollout_rows(_report.plan_rings(["canary"], {"canary": ["c1"]}, ["c1"])[1],
                                {"c1": completed("c1", "canary")}, {})
    text = _report.html(_report.report("rollout", "t", rows, "h", None, None))
    assert "http://" not in text and "https://" not in text and "<script" not in text
    assert "<link" not in text and "@import" not in text and "url(" not in text


def test_status_page():
    records = [_status("c1", "Completed"), _status("r1a", "Faulted", {"code": FAULT_CODE, "message": "<m&>"}),
               _status("x9"), _outcome.status_record(target("r2a"), failure={"msg": "Azure returned 404", "error": {
                   "code": "ResourceNotFound", "message": "not found"}})]
    rows = _report.status_rows(records, RINGS, GROUPS)
    document = _report.report("status", "Fleet status", rows, _report.status_headline(rows, ("Faulted", "Error")),
                              "a", "b")
    text = _report.html(document)
    page = parse(text)
    body = [row for row in page.rows if row["class"] != "ringhead"]
    assert len(body) == 4 and all(row["cells"] == page.columns for row in body) and page.columns >= 6
    assert len([row for row in page.rows if row["class"] == "ringhead"]) == 4  # canary, ring1, (none), ring2
    visible = "".join(page.text)
    assert FAULT_CODE in visible and "<m&>" in visible and "ResourceNotFound" in visible and "not found" in visible
    assert 'class="headline bad"' in text


def _series(svg, colour):
    """The (x, y) dots of one series of a progress picture."""
    return [(float(x), float(y)) for x, y in re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)" r="2" fill="%s"/>' % colour,
                                                        svg)]


def test_progress_svg():
    assert _report.progress_svg([], 10) == "" and _report.progress_svg(None, 10) == ""
    assert _report.progress_svg([{"elapsed": 0, "code": None, "percent_complete": None}], 10) == ""
    steps = timeline(shaped("RollingForward", 0, 0, 2, 8), shaped("RollingForward", 4, 1, 2, 3),
                     shaped("Faulted", 4, 2, 0, 4))
    svg = _report.progress_svg(steps, 90)
    assert svg.startswith("<svg") and svg.endswith("</svg>") and svg.count("<polyline") == 2
    upgraded, failed = _series(svg, "#1a7f37"), _series(svg, "#cf222e")
    assert len(upgraded) == len(failed) == 3
    xs = [spot[0] for spot in upgraded]
    assert xs == sorted(xs) and 0 <= min(xs) and max(xs) <= 200
    # Upgraded (4 of 10) and failed (2 of 10) are drawn apart: the failed line ends lower than the upgraded one.
    assert upgraded[-1][1] < failed[-1][1] < failed[0][1]
    assert ">&#9679; upgraded 4<" in svg and ">&#9679; failed 2<" in svg       # the legend
    assert ">0s<" in svg and ">1m30s<" in svg                                  # the time axis
    assert 'aria-label="4 of 10 instances upgraded, 2 failed, after 1m30s"' in svg


def test_a_faulting_scale_set_does_not_rise_in_green():
    # percentComplete counts the failed instances: 2 failed of 10 is "20% done". Nothing upgraded: green stays at 0.
    steps = timeline(shaped("RollingForward", 0, 0, 2, 8), shaped("Faulted", 0, 2, 0, 8))
    svg = _report.progress_svg(steps, 60)
    upgraded, failed = _series(svg, "#1a7f37"), _series(svg, "#cf222e")
    assert upgraded[0][1] == upgraded[-1][1] and failed[-1][1] < failed[0][1]


def test_a_single_observation_is_a_point():
    svg = _report.progress_svg(timeline(shaped("Completed", 5, 0, 0, 0)), 12)
    assert "<polyline" not in svg and len(_series(svg, "#1a7f37")) == len(_series(svg, "#cf222e")) == 1
    assert ">12s<" in svg


def test_headline_judges_max_fail_percentage_per_serial_batch():
    """2 of 10 failed in the ring, but all in the second batch of 5: 40 % > 30 % stops the run, as Ansible would."""
    plan = [{"ring": "ring1", "hosts": ["h%d" % i for i in range(10)], "in_run": ["h%d" % i for i in range(10)],
             "state": "run"}, {"ring": "ring2", "hosts": ["x"], "in_run": ["x"], "state": "run"}]
    rows = []
    for i in range(10):
        failed = i in (7, 8)
        rows.append({"host": "h%d" % i, "name": "h%d" % i, "ring": "ring1", "status": "Faulted" if failed else "Completed",
                     "failed": failed, "error_code": None, "batch": "b1" if i < 5 else "b2"})
    rows.append({"host": "x", "name": "x", "ring": "ring2", "status": "NotStarted", "failed": False, "batch": None})
    assert _report.headline(rows, plan, max_fail_percentage=30).startswith("Stopped in ring ring1: h7 Faulted")
    for row in rows:
        row["batch"] = "one"       # one batch of 10: 20 % is within 30 %
    assert _report.headline(rows[:10], plan[:1], max_fail_percentage=30).startswith("2 of 10 scale sets failed")


# -- a run still at work or interrupted, and the pass/fail of a report -----------------------------------------------
def _plan():
    return _report.plan_rings(RINGS, GROUPS, ALL_HOSTS)[1]


def _in_azure(host, ring, interrupted):
    return _outcome.unfinished_record(target(host, ring), {"action": "start", "upgrade_started": True,
                                                           "rolling_upgrade": shaped("RollingForward", 2, 0, 2, 6)},
                                      interrupted=interrupted, elapsed=40.0)


def test_an_interrupted_ring_says_its_upgrades_go_on_in_azure():
    records = {"c1": completed("c1", "canary"), "c2": completed("c2", "canary"),
               "r1a": _in_azure("r1a", "ring1", True), "r1b": _in_azure("r1b", "ring1", True),
               "r1c": _outcome.unfinished_record(target("r1c", "ring1"), {"action": "start"}, interrupted=True)}
    document = _report.rollout_document(_plan(), {}, records)
    assert document["headline"] == (
        "Ring ring1 interrupted: these upgrades are still running in Azure; a re-run attaches: vmss-r1a, vmss-r1b. "
        "A start was being sent for vmss-r1c: it may be running in Azure; a re-run attaches if so. Not started: ring2.")
    assert document["result"] == "interrupted" and document["passed"] is False
    assert 'class="headline bad"' in _report.html(document)


def test_a_report_rewritten_while_a_ring_runs_says_so_and_is_not_a_pass():
    records = {"c1": completed("c1", "canary"), "c2": _in_azure("c2", "canary", False)}
    document = _report.rollout_document(_plan(), {}, records)
    assert document["headline"].startswith("Ring canary in progress: 1 upgrade running in Azure (vmss-c2). If this run")
    assert document["result"] == "running" and document["passed"] is False
    assert 'class="headline run"' in _report.html(document)
    # A failure while others still run: said in the headline, and red.
    records["c1"] = faulted("c1", "canary")
    document = _report.rollout_document(_plan(), {}, records)
    assert document["headline"].endswith("a re-run attaches. Failed so far: vmss-c1 Faulted.")
    assert document["result"] == "failed" and 'class="headline bad"' in _report.html(document)


@pytest.mark.parametrize("records, result", [
    ({"c1": completed("c1", "canary")}, "passed"),
    ({"c1": completed("c1", "canary"), "c2": faulted("c2", "canary")}, "failed"),
])
def test_a_rollout_report_says_passed_or_failed(records, result):
    document = _report.rollout_document(_report.plan_rings(["canary"], GROUPS, ALL_HOSTS)[1], {}, records)
    assert document["result"] == result and document["passed"] is (result == "passed")
    assert ('class="headline good"' if result == "passed" else 'class="headline bad"') in _report.html(document)


def test_a_failed_drift_gate_is_red_and_says_failed():
    drifted = _outcome.status_record(target("c1"), None, drift={"outdated": True, "outdated_instance_count": 5,
                                                                "extensions": []})
    rows = _report.status_rows([drifted, _status("c2", "Completed")], RINGS, GROUPS)
    head = _report.status_headline(rows, ["Faulted", "Error"], fail_on_drift=True)
    assert head.startswith("Gate failed: 1 of 2")
    gated = _report.report("status", "t", rows, head, "a", "b", result="failed")
    assert gated["passed"] is False and 'class="headline bad"' in _report.html(gated)
    # Without the drift gate the same rows pass (nothing Faulted or Error): green, passed.
    passed = _report.report("status", "t", rows, _report.status_headline(rows, ["Faulted", "Error"]), "a", "b")
    assert passed["passed"] is True and 'class="headline good"' in _report.html(passed)


def test_text_lines_show_failures_first_and_identical_problems_once():
    hosts = ["h%d" % i for i in range(500)] + ["ok", "bad"]
    plan = _report.plan_rings(["canary"], {"canary": hosts}, hosts)[1]
    denied = "AuthenticationFailed: Authentication failed. The 'Authorization' header is missing or in an invalid format."
    records = dict((host, _outcome.error_record(target(host, "canary"), denied)) for host in hosts[:500])
    records["ok"] = completed("ok", "canary")
    records["bad"] = faulted("bad", "canary")
    rows = _report.rollout_rows(plan, records, {})
    rows.insert(0, rows.pop())                                         # the Faulted row listed first...
    document = _report.report("rollout", "t", rows, "h", "a", "b")
    lines = _report.text_lines(document)
    assert len(lines) == 3, lines                                      # 500 identical errors are one line
    assert lines[1].split()[1:3] == ["vmss-bad", "Faulted"]
    assert lines[2].split()[1:5] == ["500", "scale", "sets", "Error"]
    assert "vmss-h0, vmss-h1, vmss-h2, vmss-h3, vmss-h4 and 495 more: " + denied in lines[2]


def test_text_lines_are_cut_between_words():
    plan = _report.plan_rings(["canary"], {"canary": ["c1"]}, ["c1"])[1]
    words = "word%d" % 0 + "".join(" word%d" % i for i in range(1, 200))
    rows = _report.rollout_rows(plan, {"c1": _outcome.error_record(target("c1", "canary"), words)}, {})
    line = _report.text_lines(_report.report("rollout", "t", rows, "h", "a", "b"), width=120)[1]
    assert len(line) <= 120 and line.endswith(" ...")
    assert re.match(r"word\d+$", line[:-4].split()[-1]) and line[:-4].split()[-1] in words.split()


def test_shorten():
    assert _outcome.shorten("short", 10) == "short"
    assert _outcome.shorten("one two three four", 12) == "one two ..."
    assert len(_outcome.shorten("x" * 50, 20)) <= 20


def test_a_fault_before_the_first_batch_names_the_first_unhealthy_instances():
    error = {"code": "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade", "message": "too many unhealthy",
             "details": [{"code": "RollingUpgradeInstanceUnhealthyError", "message": "m",
                          "target": "/subscriptions/s/resourceGroups/rg-web/providers/Microsoft.Compute/"
                                    "virtualMachineScaleSets/vmss-c1/virtualMachines/%d" % i} for i in range(7)]}
    latest = shaped("Faulted", 0, 0, 0, 0, error=error)
    record = _outcome.rollout_record(target("c1", "canary"), {"action": "start", "upgrade_started": True,
                                                              "rolling_upgrade": latest},
                                     {"msg": "Rolling upgrade Faulted", "error": None})
    assert record["unhealthy_instances"] == [str(i) for i in range(7)]
    assert record["msg"].endswith(". Unhealthy instances: 0, 1, 2, 3, 4 and 2 more")
    plan = _report.plan_rings(["canary"], {"canary": ["c1"]}, ["c1"])[1]
    rows = _report.rollout_rows(plan, {"c1": record}, {})
    document = _report.report("rollout", "t", rows, _report.headline(rows, plan), "a", "b")
    assert "Unhealthy instances: 0, 1, 2, 3, 4 and 2 more" in "".join(parse(_report.html(document)).text)
    assert "Unhealthy instances: 0, 1, 2, 3, 4" in _report.text_lines(document)[1]
    status = _outcome.status_record(target("c1"), latest)
    assert status["unhealthy_instances"] == record["unhealthy_instances"] and status["policy"] == latest["policy"]
    assert "Unhealthy instances: 0, 1" in _report.text_lines(
        _report.report("status", "t", _report.status_rows([status], ["canary"], {}), "h", "a", "b"))[1]


def test_a_refused_run_has_a_report_that_failed():
    plan = _report.plan_rings(RINGS, GROUPS, ["c1", "c2", "r1a"])[1]
    document = _report.refused_document(plan, ["ring x is empty", "r1b is in two rings"], {"c1": {"vmss_name": "web"}},
                                        "a", "a")
    assert document["headline"] == "Not started, nothing was asked of Azure: ring x is empty; r1b is in two rings"
    assert document["result"] == "failed" and document["passed"] is False and len(document["problems"]) == 2
    assert {row["status"] for row in document["rows"]} == {"NotStarted", "NotRun"}
    assert document["rows"][0]["name"] == "web" and 'class="headline bad"' in _report.html(document)


def test_the_page_and_the_json_list_what_needs_a_look_failures_first_each_problem_once():
    hosts = ["h%d" % i for i in range(300)] + ["bad"]
    plan = _report.plan_rings(["canary"], {"canary": hosts}, hosts)[1]
    denied = "AuthenticationFailed: the client secret was refused"
    records = dict((host, _outcome.error_record(target(host, "canary"), denied)) for host in hosts[:300])
    records["bad"] = faulted("bad", "canary")
    document = _report.rollout_document(plan, {}, records)
    assert [(entry["status"], entry["count"]) for entry in document["attention"]] == [("Error", 300), ("Faulted", 1)]
    assert document["attention"][0]["problem"] == denied and len(document["attention"][0]["hosts"]) == 300
    page = _report.html(document)
    top = page[:page.index("<thead><tr><th>Scale set")]            # the attention table comes before the rows
    assert "Needs a look (301 scale sets)" in top and top.count(escape(denied)) == 1
    assert "vmss-h0, vmss-h1" in top and "and 288 more" in top


# -- the records the report reads from the inventory ---------------------------------------------------------------

def test_a_host_record_is_read_from_the_registered_batch_result():
    records = {"c1": completed("c1", "canary"), "c2": faulted("c2", "canary")}
    batch = {"changed": False, "results": records}
    hostvars = {"c1": {"vmss_name": "vmss-c1", _report.BATCH_VAR: batch},
                "c2": {"vmss_name": "vmss-c2", _report.BATCH_VAR: batch, "resource_group": "rg-web"},
                "r1a": {"vmss_name": "vmss-r1a"}}
    assert _report.host_values("c1", hostvars["c1"]) == {"vmss_name": "vmss-c1",
                                                         "vmss_extension_rollout_result": records["c1"]}
    assert _report.host_values("r1a", hostvars["r1a"]) == {"vmss_name": "vmss-r1a"}
    plan = _report.plan_rings(RINGS, GROUPS, ALL_HOSTS)[1]
    rows = dict((row["host"], row) for row in _report.rollout_document(plan, hostvars)["rows"])
    assert rows["c1"]["status"] == "Completed" and rows["c2"]["status"] == "Faulted"
    assert rows["r1a"]["status"] == "NotStarted"


def test_a_fact_set_on_the_host_wins_and_a_failed_batch_step_holds_no_record():
    fact = completed("c1", "canary")
    failed_step = {"failed": True, "msg": "Invalid options: vmss_extension_rollout_poll_interval ..."}
    values = {"vmss_extension_rollout_result": fact, _report.BATCH_VAR: {"results": {"c1": faulted("c1", "canary")}}}
    assert _report.host_values("c1", values)["vmss_extension_rollout_result"] == fact
    assert _report.host_values("c1", {_report.BATCH_VAR: failed_step, "vmss_extension_rollout_error": "bad"}) == {
        "vmss_extension_rollout_error": "bad"}


class _RawHostvars(dict):
    """Ansible's hostvars as the report sees them: ``raw_get`` gives a host's variables untemplated."""

    def raw_get(self, host):
        return self[host]


class _Templar:
    """Templates ``{{ name }}`` in the variables it was made for, and counts what it was asked to template."""

    def __init__(self, variables=None, asked=None):
        self.variables, self.asked = variables or {}, asked if asked is not None else []

    def copy_with_new_env(self, available_variables=None):
        return _Templar(available_variables, self.asked)

    def template(self, value):
        self.asked.append(value)
        return re.sub(r"\{\{ (\w+) \}\}", lambda m: self.variables[m.group(1)], value) if isinstance(value, str) else value


def test_read_hosts_templates_the_names_in_each_hosts_context_and_never_the_batch_result():
    batch = {"changed": False, "results": {"c1": completed("c1", "canary")}}
    hostvars = _RawHostvars(
        c1={"inventory_hostname": "c1", "vmss_name": "{{ inventory_hostname }}-vmss", _report.BATCH_VAR: batch,
            "unrelated": "{{ undefined_here }}"},
        r1a={"inventory_hostname": "r1a", "vmss_name": "{{ inventory_hostname }}-vmss"})
    templar = _Templar()
    known = _report.read_hosts(["c1", "r1a"], hostvars, templar)
    assert known == {"c1": {"vmss_name": "c1-vmss", "vmss_extension_rollout_result": batch["results"]["c1"]},
                     "r1a": {"vmss_name": "r1a-vmss"}}
    assert templar.asked == ["{{ inventory_hostname }}-vmss"] * 2   # neither the batch result nor other variables
    # Without a templar (or a hostvars without raw_get) the templated hostvars are read as they are.
    assert _report.read_hosts(["r1a"], {"r1a": {"vmss_name": "vmss-r1a"}}) == {"r1a": {"vmss_name": "vmss-r1a"}}
