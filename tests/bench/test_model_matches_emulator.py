"""The capacity model's call counts are the emulator's, exactly, for a mix of jobs.

A few hundred jobs of each kind the model knows (durable, fire-and-forget, retried
once, delayed through EventBridge Scheduler) run through ``offpath dev`` on its
default backend (MiniStack: the model's figures were measured on moto, so this also
checks that the two backends bill alike); every AWS request the backend served is
counted by its meter and compared with what ``bench.capacity.predict`` computes from
the committed benchmark run (bench/results/costs.json).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.capacity import load, predict
from bench.stack import producer_for, running_emulator

from bench import costs
from offpath.local.backends import DEFAULT_BACKEND

ROOT = Path(__file__).resolve().parents[2]
MIX = {"durable": 60, "fire_and_forget": 60, "retry": 40, "delayed": 40}

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[costs.Run]:
    outbox = tmp_path_factory.mktemp("model") / "outbox.jsonl"
    with running_emulator(background=False, outbox=outbox, backend=DEFAULT_BACKEND) as emulator:
        producer = producer_for(emulator)
        scenarios = {s.key: s for s in costs.SCENARIOS}
        calls: Counter[str] = Counter()
        invocations = scheduled = 0
        for kind, jobs in MIX.items():
            # Each kind in batches of 10, as measured; the harness takes the drain's own
            # empty receives out and fails if a job did not finish.
            run = costs.run_scenario(emulator, producer, scenarios[kind], jobs)
            calls += run.calls
            invocations += run.invocations
            scheduled += run.scheduler_invocations
        yield costs.Run(sum(MIX.values()), calls, 0, invocations, 0, scheduled)


def test_the_emulator_makes_exactly_the_calls_the_model_predicts(counted: costs.Run) -> None:
    model = predict(load(ROOT / "bench" / "results" / "costs.json"), MIX)

    assert dict(counted.calls) == model.calls
    assert counted.invocations == model.invocations
    assert counted.scheduler_invocations == model.scheduler_invocations == MIX["delayed"]


def test_the_prediction_refuses_a_mix_that_is_not_full_batches() -> None:
    with pytest.raises(ValueError, match="not full batches"):
        predict(load(ROOT / "bench" / "results" / "costs.json"), {"durable": 15})
