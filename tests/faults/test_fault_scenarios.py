"""A short seed set of the fault-injection scenarios (tests/faults/scenario.py): zero invariant violations.

The long run is by hand: `python benchmarks/fault_suite.py --scenarios 1000` (docs/design/fault-suite.md).
"""

from __future__ import annotations

import pytest

from tests.faults.scenario import run_scenario

CI_SEEDS = range(6)


@pytest.mark.slow
@pytest.mark.parametrize("seed", CI_SEEDS)
def test_a_scenario_with_faults_keeps_every_invariant(seed: int) -> None:
    outcome = run_scenario(seed)
    assert sum(outcome.faults.values()) > 0, "the scenario injected no fault"
    assert outcome.violations == []
