# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option rules checked before any request, each with the sentence a user sees."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re


class Rule:
    """A string option rule: length bounds and a pattern, described in words."""

    def __init__(self, pattern=None, min_len=1, max_len=None, description=None):
        self.regex = re.compile(pattern) if pattern else None
        self.pattern = pattern
        self.min_len = min_len
        self.max_len = max_len
        self.description = description

    def problem(self, value):
        """None when ``value`` is acceptable, else the broken rule in words."""
        text = str(value)
        if not text and self.min_len:
            return "must not be empty"
        if len(text) < self.min_len or (self.max_len and len(text) > self.max_len):
            if self.max_len:
                problem = "must be %d to %d characters long (got %d)" % (self.min_len, self.max_len, len(text))
            else:
                problem = "must not be empty"
            return problem + ("; it " + self.description if self.description else "")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
            return "must not contain control characters"
        if self.regex and not self.regex.search(text):
            return self.description or "must match %s" % self.pattern
        return None


class Range:
    """An integer option rule."""

    def __init__(self, minimum=None, maximum=None):
        self.minimum = minimum
        self.maximum = maximum

    def problem(self, value):
        if self.minimum is not None and value < self.minimum:
            return "must be at least %d (got %d)" % (self.minimum, value)
        if self.maximum is not None and value > self.maximum:
            return "must be at most %d (got %d)" % (self.maximum, value)
        return None


class ListOf:
    """A list-of-strings option rule (for a ``raw`` option, so that no scalar is quietly made a list): not empty,
    and every element a string that follows ``rule``."""

    def __init__(self, rule):
        self.rule = rule

    def problem(self, value):
        if not isinstance(value, (list, tuple)):
            return "must be a list of names (got %s)" % type(value).__name__
        if not value:
            return "must name at least one item (omit the option for all)"
        for index, item in enumerate(value):
            if not isinstance(item, str):
                return "item %d must be a string (got %s)" % (index + 1, type(item).__name__)
            problem = self.rule.problem(item)
            if problem:
                return "item %d (%r) %s" % (index + 1, str(item)[:80], problem)
        return None


UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

SUBSCRIPTION_ID = Rule(UUID, description="must be a subscription GUID such as 00000000-0000-0000-0000-000000000000")
RESOURCE_GROUP = Rule(r"^[-\w\._\(\)]*[-\w\(\)]$", 1, 90,
                      r"must match ^[-\w._()]+$ (letters, digits, '-', '_', '.', '(', ')') and not end with '.'")
VMSS_NAME = Rule(r"^[a-zA-Z0-9]([-\w\.]{0,62}[\w])?$", 1, 64,
                 "must be a scale set name: letters, digits, '-', '_', '.', starting with a letter or digit and not ending with '-' or '.'")
AKS_NAME = Rule(r"^[a-zA-Z0-9]$|^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$", 1, 63,
                r"must match ^[a-zA-Z0-9]$|^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$")
AGENT_POOL = Rule(r"^[a-z][a-z0-9]{0,11}$", 1, 12, r"must match ^[a-z][a-z0-9]{0,11}$ (lowercase, starting with a letter)")
OPERATION_ID = Rule(r"^(?!\.{1,2}$)[^/\\?#]+$", 1, 256, "must not contain '/', '\\', '?' or '#' nor be '.' or '..'")
# Azure resource names never hold these (they would change the URL); extension names are at most 256 long.
EXTENSION_NAME = Rule(r"^(?!\.{1,2}$)[^/\\?#<>%&:*]+$", 1, 256,
                      "must be an extension name: none of / \\ ? # < > % & : * and not '.' or '..'")
API_VERSION = Rule(r"^\d{4}-\d{2}-\d{2}(-preview)?$", 10, 18, "must look like 2024-07-01 or 2025-05-02-preview")
ADU_INSTANCE = Rule(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$", 1, 64, "must be letters, digits and '-', starting with a letter or digit")
ADU_ENDPOINT = Rule(r"^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*(:[0-9]{1,5})?$", 1, 253,
                    "must be the account host name only, optionally with :port (for example contoso.api.adu.microsoft.com); "
                    "no scheme, path or query: the service is always reached over HTTPS")


def problems(params, rules):
    """Messages for every option that breaks its rule (unset options are skipped)."""
    found = []
    for name, rule in rules.items():
        value = params.get(name)
        if value is None:
            continue
        problem = rule.problem(value)
        if problem:
            found.append("%s %s" % (name, problem))
    return found
