# -*- coding: utf-8 -*-
"""_rings: the run decided before any request (unringed scale sets, batches per ring, settings, role variables,
inventory sources)."""

import re

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.azure_ops.rollout.plugins.module_utils import _fleet, _report, _rings

from tests.helpers import REPO_ROOT

GROUPS = {"canary": ["c1", "c2"], "ring1": ["r1a", "r1b", "r1c"], "ring2": ["r2a"],
          "vmss": ["c1", "c2", "r1a", "r1b", "r1c", "r2a", "u1", "u2"], "unringed": ["u1", "u2"]}
RINGS = ["canary", "ring1", "ring2"]
ALL = GROUPS["vmss"]
SPEC = yaml.safe_load((REPO_ROOT / "roles" / "vmss_extension_rollout" / "meta" / "argument_specs.yml").read_text())[
    "argument_specs"]["main"]["options"]


def _validate(spec, values):
    return list(ArgumentSpecValidator(spec).validate(values).error_messages)


# -- unringed scale sets --------------------------------------------------------------------------------------------
def test_a_scale_set_in_no_ring_stops_the_run_naming_it():
    problems, plan = _rings.plan(RINGS, GROUPS, ALL)
    assert plan[-1]["state"] == "unringed" and plan[-1]["hosts"] == ["u1", "u2"]  # a refused run's report lists them
    assert len(problems) == 1
    assert "2 scale set(s) of group vmss are in no ring of rollout_rings (u1, u2)" in problems[0]
    assert "rollout_unringed=notrun" in problems[0]


def test_notrun_lists_the_unringed_scale_sets_in_the_plan_and_the_report_as_notrun():
    problems, plan = _rings.plan(RINGS, GROUPS, ALL, unringed="notrun")
    assert problems == []
    assert plan[-1]["state"] == "unringed" and plan[-1]["hosts"] == ["u1", "u2"] and plan[-1]["in_run"] == []
    rows = _report.rollout_rows(plan, {}, {})
    assert [(row["host"], row["status"], row["ring"]) for row in rows][-2:] == [("u1", "NotRun", ""), ("u2", "NotRun", "")]
    # the unringed entry gets no batch and no "Not started" ring
    assert sum(_rings.batches(plan, "100%")) == 6


def test_without_the_scale_set_group_there_is_nothing_to_compare():
    groups = dict((k, v) for k, v in GROUPS.items() if k != "vmss")
    assert _rings.plan(RINGS, groups, ALL)[0] == []


def test_ring_names_must_be_group_names():
    problems = _rings.plan(["canary", "ring1:ring2"], GROUPS, ALL, unringed="notrun")[0]
    assert any("ring 'ring1:ring2' is not an inventory group name" in p for p in problems), problems


# -- batches: serial per ring, never across rings -------------------------------------------------------------------
@pytest.mark.parametrize("serial, sizes", [
    ("100%", [2, 3, 1]), (0, [2, 3, 1]), (2, [2, 2, 1, 1]), ("50%", [1, 1, 1, 1, 1, 1]), (1, [1] * 6),
    ("34%", [1, 1, 1, 1, 1, 1]), ("67%", [1, 1, 2, 1, 1]), (10, [2, 3, 1]),
])
def test_batches_cut_each_ring(serial, sizes):
    plan = _rings.plan(RINGS, GROUPS, ALL, unringed="notrun")[1]
    assert _rings.batches(plan, serial) == sizes


def test_any_number_of_rings_and_limited_rings():
    groups = {"blue": ["b1"], "green": ["g1", "g2"], "red": ["x1"], "white": ["w1", "w2", "w3"]}
    plan = _rings.plan(["blue", "green", "red", "white"], groups, ["b1", "g1", "g2", "w1", "w2", "w3"])[1]
    assert [e["state"] for e in plan] == ["run", "run", "limited out", "run"]
    assert _rings.batches(plan, 2) == [1, 2, 2, 1]
    assert _rings.batch_ring(plan, ["w3"]) == "white"
    with pytest.raises(ValueError, match="is not one ring of the plan"):
        _rings.batch_ring(plan, ["g2", "w1"])
    with pytest.raises(ValueError):
        _rings.batch_ring(plan, ["x1"])  # limited out: not in this run


@pytest.mark.parametrize("serial, ok", [(1, True), ("3", True), ("25%", True), ("100%", True), ("0", True),
                                        ("101%", False), ("0%", False), ("two", False), (True, False), (-1, False)])
def test_serial_rule(serial, ok):
    assert (_rings.serial_problem(serial) is None) == ok


@pytest.mark.parametrize("value, ok", [(0, True), ("25", True), (100, True), (101, False), ("x", False), (None, False)])
def test_max_fail_percentage_rule(value, ok):
    assert (_rings.percentage_problem(value) is None) == ok


# -- run-wide settings and role variables ---------------------------------------------------------------------------
def test_a_run_wide_setting_every_scale_set_sees_is_the_runs_and_one_per_ring_is_refused():
    # Set in the scale set group's vars (or all, or -e): every scale set sees it, so it is the run's.
    values, found = _rings.agreed_settings({"b1": {"rollout_rings": ["blue", "green"]},
                                            "b2": {"rollout_rings": ["blue", "green"], "rollout_serial": 2}})
    assert values == {"rollout_rings": ["blue", "green"]}
    assert list(found) == [
        "rollout_serial differs between scale sets (unset on b1; 2 on b2): it is read once for the run, so set it for "
        "all of them (-e, group_vars/all.yml or the scale set group's vars), not per ring or host"]
    assert _rings.agreed_settings({"a": {}, "b": {}}) == ({}, {})


def test_role_variables_wrong_type_is_one_line_and_a_typo_is_named():
    values = {_rings.RUN: {"vmss_extension_rollout_wait_timeout": "soon"}}
    values.update(("h%d" % i, {"vmss_extension_rollout_wait_timeout": "soon", "vmss_extension_rollout_wait_timout": 9})
                  for i in range(500))
    errors, unknown = _rings.role_variable_problems(SPEC, "vmss_extension_rollout_", values, _validate)
    lines = _rings.collapse(errors)
    assert len(lines) == 1 and lines[0].endswith("(for the whole run)") and len(lines[0]) < 200, lines
    assert "vmss_extension_rollout_wait_timeout" in lines[0]
    (typo,) = _rings.collapse(unknown)
    assert typo.startswith("vmss_extension_rollout_wait_timout is not a variable of the role vmss_extension_rollout; "
                           "did you mean vmss_extension_rollout_wait_timeout?")
    assert typo.endswith("(h0, h1, h2, h3, h4 and 495 more)")


def test_a_bad_choice_on_one_group_names_its_hosts():
    values = {"a": {"vmss_extension_rollout_if_faulted": "retry"}, "b": {}}
    errors = _rings.collapse(_rings.role_variable_problems(SPEC, "vmss_extension_rollout_", values, _validate)[0])
    assert errors == ["value of vmss_extension_rollout_if_faulted must be one of: fail, start, got: retry (a)"]


def test_the_role_spec_knows_every_option_of_the_batch_step():
    """The preflight checks the role's variables from its argument spec: it must name every batch option."""
    options = set(name[len("vmss_extension_rollout_"):] for name in SPEC)
    assert set(_fleet.BATCH_SETTINGS) - {"if_running", "if_faulted"} <= options | {"api_version"}
    assert {"ring", "report", "fail_on_error"} <= options


# -- inventory sources ---------------------------------------------------------------------------------------------
def test_a_source_that_did_not_parse_is_named(tmp_path):
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "hosts.yml").write_text("x")
    (tmp_path / "inv" / "azure.yml").write_text("x")
    (tmp_path / "inv" / "group_vars").mkdir()
    (tmp_path / "inv" / "group_vars" / "all.yml").write_text("x")
    good, broken = tmp_path / "good.yml", tmp_path / "broken.yml"
    skip = re.compile(r"^\.|^group_vars$|^host_vars$").search
    processed = [str(good), str(tmp_path / "inv" / "hosts.yml"), "h1,h2"]
    failed = _rings.failed_sources([str(good), str(broken), str(tmp_path / "inv"), "h1,h2"], processed, skip=skip)
    assert failed == [str(broken), str(tmp_path / "inv" / "azure.yml")]
    assert _rings.failed_sources([str(good)], processed, skip=skip) == []
    assert _rings.failed_sources(["/etc/ansible/hosts"], [], skip=skip) == (
        ["/etc/ansible/hosts"] if __import__("os").path.exists("/etc/ansible/hosts") else [])
