# -*- coding: utf-8 -*-
"""Fixtures of the module_utils tests: ``clock`` (a RecordingClock) and ``make_client`` (an AzureClient on it)."""

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient, RetryPolicy

from tests.helpers import RecordingClock, options_for
# Re-exported for test files written before tests.helpers; new tests import from tests.helpers.


@pytest.fixture
def clock():
    return RecordingClock()


@pytest.fixture
def make_client(emulator, clock):  # pylint: disable=redefined-outer-name
    """``make_client(clock_=None, max_attempts=6, **option overrides)``: a client for the emulator, quick backoff."""
    def make(clock_=None, max_attempts=6, **overrides):
        retry = RetryPolicy(max_attempts=max_attempts, backoff_base=0.5, backoff_cap=8.0)
        return AzureClient(options_for(emulator, **overrides), clock=clock_ or clock, retry=retry)
    return make
