"""Optuna's sampler contract, run against MIPSampler.

``optuna.testing.pytest_samplers`` ships the parametrised test cases Optuna runs on its own
samplers (from Optuna 5; skipped on older ones); a subclass provides a ``sampler`` fixture
returning a sampler factory. MIPSampler runs ``BasicSamplerTestCase``;
``MultiObjectiveSamplerTestCase`` does not apply because MIP refuses multi-objective studies
(as Optuna's single-objective samplers do), nor ``RelativeSamplerTestCase``, because MIP samples
independently. Seeds, threads and copies are in ``test_mip_copies.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import optuna
from optuna.samplers import BaseSampler
import pytest


pytest_samplers = pytest.importorskip(
    "optuna.testing.pytest_samplers", reason="this Optuna does not ship its sampler test cases"
)
BasicSamplerTestCase = pytest_samplers.BasicSamplerTestCase

from _mip_helpers import SAMPLERS  # noqa: E402


optuna.logging.set_verbosity(optuna.logging.WARNING)


class _MIPFixture:
    # The Optuna test cases define a ``sampler`` fixture that raises; a class-level fixture is
    # needed to override it.
    @pytest.fixture(params=list(SAMPLERS), ids=list(SAMPLERS))
    def sampler(self, request: pytest.FixtureRequest) -> Callable[[], BaseSampler]:
        return SAMPLERS[request.param]


class TestBasicContract(_MIPFixture, BasicSamplerTestCase):
    pass
