"""The fault simulation at length: ``python -m bench.simulate --runs N --seed S``.

Each run is one seeded fault schedule (tests/sim/simulator.py); a violation prints
its seed, which replays it exactly with ``--seed <it> --runs 1``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from tests.sim.simulator import simulation


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="offpath's fault simulation, long")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="the first run's seed")
    parser.add_argument("--fault-rate", type=float, default=0.25, help="per AWS call")
    parser.add_argument(
        "--seconds", type=float, default=None, help="stop after this long, runs done or not"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    bad: dict[int, list[str]] = {}
    runs = 0
    with simulation() as sim:
        for seed in range(args.seed, args.seed + args.runs):
            if args.seconds is not None and time.monotonic() - started > args.seconds:
                break
            runs += 1
            problems = sim.run(seed, args.fault_rate)
            if problems:
                bad[seed] = problems
                print(json.dumps({"seed": seed, "violations": problems}), flush=True)
        faults = sim.faults
    summary = {
        "runs": runs,
        "first_seed": args.seed,
        "faults_injected": faults,
        "runs_with_violations": len(bad),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(summary), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
