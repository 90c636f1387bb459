"""The fault simulation, CI-sized: every seeded fault schedule ends with the invariants
held. ``OFFPATH_SIM_RUNS`` sets the size; ``python -m bench.simulate --runs N`` runs
it long (tests/sim/simulator.py says what each run draws)."""

from __future__ import annotations

import os

import pytest

from tests.sim.simulator import simulation

RUNS = int(os.environ.get("OFFPATH_SIM_RUNS", "600"))


@pytest.mark.timeout(300)
def test_no_fault_schedule_loses_doubles_or_rushes_a_job() -> None:
    found: dict[int, list[str]] = {}
    with simulation() as sim:
        for seed in range(RUNS):
            problems = sim.run(seed)
            if problems:
                found[seed] = problems
        faults = sim.faults
    assert found == {}, f"replay with python -m bench.simulate --seed S --runs 1: {found}"
    assert faults > RUNS, "the faults were real"
