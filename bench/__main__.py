"""Run offpath's benchmarks, each figure beside its baseline from the same run.

    .venv/bin/python -m bench                       # everything, about 6 minutes
    .venv/bin/python -m bench --only costs cpu      # some sections
    .venv/bin/python -m bench --markdown out.md     # the tables for docs/benchmarks.md

Sections run one after another (timings on a small machine are only comparable
when nothing else of ours runs beside them). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import artifacts, async_batch, cold_start, costs, emulator_throughput, worker_cpu
from bench.report import Section, markdown, text

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("cold", "costs", "cpu", "emulator", "artifacts", "async")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--runs", type=int, default=7, help="cold-start samples (>= 7)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per cost scenario")
    parser.add_argument("--messages", type=int, default=10_000, help="CPU: messages per round")
    parser.add_argument("--rounds", type=int, default=3, help="CPU: rounds")
    parser.add_argument("--jobs", type=int, default=1000, help="emulator: burst size")
    parser.add_argument("--steady-jobs", type=int, default=100, help="emulator: steady jobs")
    parser.add_argument("--rate", type=float, default=10.0, help="emulator: steady jobs/s")
    parser.add_argument("--markdown", type=Path, help="also write the tables as Markdown")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    return parser.parse_args(argv)


def plan(args: argparse.Namespace) -> dict[str, Callable[[], Section]]:
    return {
        "cold": lambda: cold_start.run(args.runs),
        "costs": lambda: costs.run(args.repeats),
        "cpu": lambda: worker_cpu.run(args.messages, args.rounds),
        "emulator": lambda: emulator_throughput.run(args.jobs, args.steady_jobs, args.rate),
        "artifacts": artifacts.run,
        "async": lambda: async_batch.run(args.repeats),
    }


def machine() -> str:
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = " + uncommitted changes" if _git("status", "--porcelain") else ""
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}{dirty}; "
        f"{platform.platform()}, {os.cpu_count()} CPUs, CPython {platform.python_version()}; "
        f"{load()}"
    )


def load() -> str:
    """The machine's load: timings on a busy machine are slower and noisier."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.perf_counter()
    header = machine()
    print(header, flush=True)
    sections = []
    for name, run in plan(args).items():
        if name in args.only:
            sections.append(run())
            print("\n" + text(sections[-1]), flush=True)
    total_s = time.perf_counter() - started
    print(f"\nall sections: {total_s:.0f} s; {load()}")
    if args.markdown:
        body = "\n\n".join(markdown(s) for s in sections)
        footer = f"{total_s:.0f} s in all; at the end, {load()}."
        args.markdown.write_text(f"Run: {header}.\n\n{body}\n\n{footer}\n")
    if args.json:
        data = {"run": header, "seconds": total_s, "sections": [_plain(s) for s in sections]}
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0


def _plain(section: Section) -> dict[str, object]:
    data = dataclasses.asdict(section)
    data["figures"] = [{**dataclasses.asdict(f), "ratio": f.ratio} for f in section.figures]
    return data


if __name__ == "__main__":
    sys.exit(main())
