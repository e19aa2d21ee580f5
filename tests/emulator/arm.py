"""Shared ARM plumbing: subscriptions/resource groups, error shapes, paging, link building."""

import urllib.parse

from .wire import arm_error


def not_found_subscription(sub):
    return arm_error(404, "SubscriptionNotFound", "The subscription '%s' could not be found." % sub)


def not_found_group(rg):
    return arm_error(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % rg)


def not_found_resource(rtype, name, rg):
    return arm_error(404, "ResourceNotFound",
                     "The Resource '%s/%s' under resource group '%s' was not found. "
                     "For more details please go to https://aka.ms/ARMResourceNotFoundFix" % (rtype, name, rg))


def missing_api_version():
    return arm_error(400, "MissingApiVersionParameter",
                     "The api-version query parameter (?api-version=) is required for all requests.")


def link(ctx, path, params):
    """Absolute (or relative / foreign, per fault) URL for ``path`` with ordered query ``params``."""
    query = urllib.parse.urlencode(params, safe="$'/:", quote_via=urllib.parse.quote)
    return "%s%s?%s" % (ctx.link_base, path, query)


def paged(ctx, items, page_size, render):
    """``{"value": [...], "nextLink"?}`` using ``$skiptoken`` (an integer offset) in an absolute nextLink."""
    try:
        start = max(0, int(ctx.q("$skiptoken", "0")))
    except ValueError:
        start = 0
    chunk = items[start:start + page_size]
    body = {"value": [render(item) for item in chunk]}
    if start + page_size < len(items):
        params = [(k, v) for k, vals in ctx.query.items() if k != "$skiptoken" for v in vals]
        params.append(("$skiptoken", str(start + page_size)))
        body["nextLink"] = link(ctx, ctx.path, params)
    return body


class ArmScope:
    """Known subscriptions and resource groups (case-insensitive like ARM)."""

    def __init__(self):
        self.subscriptions = {}   # lower -> canonical id
        self.groups = {}          # (sub lower, rg lower) -> {"name", "location"}

    def add_subscription(self, sub):
        self.subscriptions.setdefault(sub.lower(), sub)

    def add_group(self, sub, rg, location=None):
        self.add_subscription(sub)
        key = (sub.lower(), rg.lower())
        if key not in self.groups:
            self.groups[key] = {"name": rg, "location": location or "eastus"}

    def check(self, sub, rg=None):
        """None when the scope exists, else the ARM 404 Response."""
        if sub.lower() not in self.subscriptions:
            return not_found_subscription(sub)
        if rg is not None and (sub.lower(), rg.lower()) not in self.groups:
            return not_found_group(rg)
        return None
