# -*- coding: utf-8 -*-
"""_validation: every rule says what is wrong in words a user can act on (pure)."""

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _validation
from ansible_collections.azure_ops.rollout.plugins.module_utils._validation import Range, problems


@pytest.mark.parametrize("value", ["1234", "", "00000000-0000-0000-0000-0000000000011", "x" * 5000])
def test_a_subscription_id_is_a_guid_in_words(value):
    problem = _validation.SUBSCRIPTION_ID.problem(value)
    assert problem in ("must be a subscription GUID such as 00000000-0000-0000-0000-000000000000", "must not be empty")
    assert "characters long" not in problem


@pytest.mark.parametrize("value, ok", [("rg-web", True), ("rg(1).x_y", True), ("rg.", False), ("a/b", False), ("a" * 91, False)])
def test_resource_group(value, ok):
    assert (_validation.RESOURCE_GROUP.problem(value) is None) is ok


def test_lengths_and_control_characters_are_named():
    assert _validation.VMSS_NAME.problem("x" * 65).startswith("must be 1 to 64 characters long (got 65); it must be a scale set")
    assert _validation.VMSS_NAME.problem("a\nb") == "must not contain control characters"


def test_problems_name_the_option_and_skip_unset_ones():
    found = problems({"subscription_id": "nope", "wait_timeout": 0, "poll_interval": None},
                     {"subscription_id": _validation.SUBSCRIPTION_ID, "wait_timeout": Range(1, 86400),
                      "poll_interval": Range(1, 3600)})
    assert found == ["subscription_id must be a subscription GUID such as 00000000-0000-0000-0000-000000000000",
                     "wait_timeout must be at least 1 (got 0)"]


def test_list_of():
    rule = _validation.ListOf(_validation.EXTENSION_NAME)
    assert rule.problem(["HealthExtension"]) is None
    assert rule.problem("HealthExtension") == "must be a list of names (got str)"
    assert rule.problem([]) == "must name at least one item (omit the option for all)"
    assert rule.problem(["ok", "a/b"]).startswith("item 2 ('a/b') must be an extension name")
