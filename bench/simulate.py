"""The fault simulation at length: ``python -m bench.simulate --runs N --seed S``.

Each run is one seeded fault schedule (tests/sim/simulator.py); a violation prints
its seed, which replays it exactly with ``--seed <it> --runs 1``. ``--processes P``
splits the seeds into P disjoint ranges, one simulation process each, and sums their
counts; ``--progress K`` prints the counts so far every K runs of each process.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from dataclasses import dataclass, field

from tests.sim.simulator import simulation


@dataclass
class Part:
    """One process's share: seeds ``first .. first + runs - 1``."""

    first: int
    runs: int
    fault_rate: float
    deadline: float | None  # time.time() after which no run starts
    progress: int
    done: int = 0
    faults: int = 0
    bad: dict[int, list[str]] = field(default_factory=dict)


def _run(part: Part) -> Part:
    started = time.monotonic()
    with simulation() as sim:
        for seed in range(part.first, part.first + part.runs):
            if part.deadline is not None and time.time() > part.deadline:
                break
            # A run that raises is a finding too (its seed replays it); the rest go on.
            try:
                problems = sim.run(seed, part.fault_rate)
            except Exception as exc:  # noqa: BLE001 - the one boundary per run
                problems = [f"the run raised {exc!r}"]
            part.done += 1
            if problems:
                part.bad[seed] = problems
                print(json.dumps({"seed": seed, "violations": problems}), flush=True)
            if part.progress and part.done % part.progress == 0:
                _report(part, sim.faults, started)
        part.faults = sim.faults
    return part


def _report(part: Part, faults: int, started: float) -> None:
    progress = {
        "first_seed": part.first,
        "runs_so_far": part.done,
        "faults_so_far": faults,
        "violations_so_far": len(part.bad),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps({"progress": progress}), flush=True)


def _parts(args: argparse.Namespace) -> list[Part]:
    deadline = None if args.seconds is None else time.time() + args.seconds
    share, extra = divmod(args.runs, args.processes)
    parts, first = [], args.seed
    for n in range(args.processes):
        runs = share + (1 if n < extra else 0)
        parts.append(Part(first, runs, args.fault_rate, deadline, args.progress))
        first += runs
    return parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="offpath's fault simulation, long")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="the first run's seed")
    parser.add_argument("--fault-rate", type=float, default=0.25, help="per AWS call")
    parser.add_argument(
        "--seconds", type=float, default=None, help="stop after this long, runs done or not"
    )
    parser.add_argument("--processes", type=int, default=1, help="simulations side by side")
    parser.add_argument("--progress", type=int, default=0, help="counts every K runs")
    args = parser.parse_args(argv)
    started = time.monotonic()
    parts = _parts(args)
    if args.processes == 1:
        done = [_run(parts[0])]
    else:
        # spawn: each simulation starts its own moto in a fresh interpreter.
        with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
            done = pool.map(_run, parts)
    bad = {seed: found for part in done for seed, found in part.bad.items()}
    summary = {
        "runs": sum(part.done for part in done),
        "first_seed": args.seed,
        "seed_ranges": [[p.first, p.first + p.done - 1] for p in done],
        "processes": args.processes,
        "faults_injected": sum(part.faults for part in done),
        "runs_with_violations": len(bad),
        "violating_seeds": sorted(bad),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(summary), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
