# -*- coding: utf-8 -*-
"""An endpoint that cannot be reached fails fast and says why: a closed port on 127.0.0.1, a name that does not
resolve (``.invalid``, RFC 2606) and a certificate from another CA, for the token endpoint and for ARM.

Real clock, real sockets, one in-process module run per case. The bound is the one the collection documents:
``2 x request_timeout`` plus the quick retries of a request that never reached the service
(``_timing.UNREACHED_*``: 3 attempts, 0.5 s then 1 s apart at most).
"""
from __future__ import annotations

import socket
import time

import pytest
import trustme

from ansible_collections.azure_ops.rollout.plugins.module_utils import _timing
from ansible_collections.azure_ops.rollout.plugins.modules import vmss_rolling_upgrade_info

from tests.helpers import run_module

REQUEST_TIMEOUT = 5
QUICK_RETRY_BUDGET = sum(min(2 * _timing.UNREACHED_BACKOFF, _timing.UNREACHED_BACKOFF * 2 ** i)
                         for i in range(_timing.UNREACHED_ATTEMPTS - 1))
BOUND = 2 * REQUEST_TIMEOUT + QUICK_RETRY_BUDGET
UNRESOLVABLE = "nothing-here.invalid"


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _case(emu, where, kind, tmp_path):
    """(extra module args, expected error code, the host the message must name, the cause in words)."""
    option = "authority_host" if where == "token" else "resource_manager_endpoint"
    if kind == "refused":
        port = _closed_port()
        return {option: "https://127.0.0.1:%d" % port}, "ConnectionError", "127.0.0.1:%d" % port, "connection refused"
    if kind == "unresolvable":
        return {option: "https://%s" % UNRESOLVABLE}, "NameResolutionError", UNRESOLVABLE, "does not resolve"
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    # The token request is the first one: a wrong CA fails there, and must not read as refused credentials.
    return {"ca_path": str(other_ca)}, "TLSError", emu.host, "TLS verification"


# (TLS for ARM alone cannot be set up here: one CA option covers both endpoints, and the token request comes first.)
@pytest.mark.parametrize("where, kind", [("token", "refused"), ("arm", "refused"), ("token", "unresolvable"),
                                         ("arm", "unresolvable"), ("token", "tls")])
def test_unreachable_endpoint_fails_fast_naming_the_kind_and_the_host(emu_env, tmp_path, where, kind):
    extra, code, host, cause = _case(emu_env, where, kind, tmp_path)
    args = dict({"resource_group": "rg-test", "name": "vmss-done", "request_timeout": REQUEST_TIMEOUT}, **extra)
    started = time.monotonic()
    result = run_module(vmss_rolling_upgrade_info, args)
    elapsed = time.monotonic() - started
    print("%s %s: failed in %.2f s (bound %.1f s): %s" % (where, kind, elapsed, BOUND, result.get("msg")))
    assert result.get("failed"), result
    assert elapsed <= BOUND, "took %.1f s, more than 2 x request_timeout + %.1f s" % (elapsed, QUICK_RETRY_BUDGET)
    assert result["error"]["code"] == code, result["msg"]
    assert code in result["msg"] and host in result["msg"], result["msg"]
    assert "refused the client credentials" not in result["msg"]
    # Reports cut messages (the fleet table keeps 90 characters): the cause comes first, the URL after it.
    assert cause in result["error"]["message"][:90], result["error"]["message"]
    assert "Traceback" not in str(result)
