# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AzureModule: AnsibleModule plus the shared options, a lazy client and error mapping.

It wraps (does not subclass) AnsibleModule, so a module file is its argument
spec, its documentation and a few lines of logic::

    module = AzureModule(argument_spec, rules={"name": VMSS_NAME})
    module.run(main)   # main(module) returns the result dict
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.azure_ops.rollout.plugins.module_utils import _auth, _validation
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError

# Rules every module applies to the shared options.
SHARED_RULES = {"subscription_id": _validation.SUBSCRIPTION_ID}


# Rules of the wait options of the info modules (see wait_spec).
WAIT_RULES = {"wait_timeout": _validation.Range(1, 86400), "poll_interval": _validation.Range(1, 3600)}


def wait_spec(timeout, interval):
    """Argument spec of the ``wait``/``wait_timeout``/``poll_interval`` options of an info module."""
    return {
        "wait": {"type": "bool", "default": False},
        "wait_timeout": {"type": "int", "default": timeout},
        "poll_interval": {"type": "int", "default": interval},
    }


def waited(outcome):
    """The result keys every waiting info module returns, from a WaitResult whose value is None when not found."""
    return {"changed": False, "exists": outcome.value is not None, "elapsed": round(outcome.elapsed, 1),
            "timeline": outcome.timeline, "timed_out": outcome.timed_out}


class ModuleFailure(Exception):
    """Fail the task with ``msg`` and still return ``result`` (for example the last progress)."""

    def __init__(self, msg, **result):
        super(ModuleFailure, self).__init__(msg)
        self.msg = msg
        self.result = result


class AzureModule:
    def __init__(self, argument_spec, rules=None, needs_subscription=True, **kwargs):
        spec = _auth.auth_argument_spec()
        spec.update(argument_spec)
        kwargs.setdefault("supports_check_mode", True)
        self.module = AnsibleModule(argument_spec=spec, **kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self.diff_mode = self.module._diff
        self._client = None
        checks = dict(SHARED_RULES)
        checks.update(rules or {})
        found = _validation.problems(self.params, checks)
        for name in ("request_timeout",):
            problem = _validation.Range(1, 3600).problem(self.params[name])
            if problem:
                found.append("%s %s" % (name, problem))
        if needs_subscription and not self.params.get("subscription_id") and self.params.get("auth_source") != "credential_file":
            found.append("subscription_id is required (set the option or AZURE_SUBSCRIPTION_ID)")
        credential_problem = _auth.explicit_credential_problem(self.params)
        if credential_problem:
            found.append(credential_problem)
        if found:
            self.module.fail_json(msg="Invalid options: " + "; ".join(found))

    @property
    def client(self):
        if self._client is None:
            from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient

            options = dict(self.params)
            if options.get("auth_source") == "credential_file" and not options.get("subscription_id"):
                options["subscription_id"] = _auth.read_credential_file(options.get("profile")).get("subscription_id")
            self._client = AzureClient(options)
        return self._client

    @property
    def subscription_id(self):
        return self.client.subscription_id

    def warn(self, message):
        self.module.warn(message)

    def run(self, main):
        """Call ``main(self)``; exit with its result, or fail with Azure's code and message.

        ``fail_json`` is called after the ``except`` block, not in it: ansible-core before 2.19 adds the traceback of
        the exception being handled to the result at -vvv, and a failure explained by its message needs no stack trace.
        """
        result, failure = {}, None
        try:
            result = main(self)
        except ModuleFailure as exc:
            failure = dict(exc.result, msg=exc.msg)
        except AzureError as error:
            failure = dict(msg=str(error), error=error.to_dict())
        if failure is not None:
            self.module.fail_json(**dict(failure, throttled=self.throttled()))
        self.module.exit_json(**dict(result, throttled=self.throttled()))

    def throttled(self):
        """The ``throttled`` result entry: ``[{"policy", "times", "seconds"}]`` Azure's 429s made this task wait."""
        return self._client.throttled() if self._client is not None else []
