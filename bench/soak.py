"""The chaos soak at full size: ``python -m bench.soak --jobs 10000``.

Runs :mod:`tests.soak.harness` (the emulator on tests/soak/template.yaml, faults
injected, then an audit) and prints its report; exits 1 if an invariant broke.
The functions' own output (logs, EMF metrics) goes to ``<workdir>/functions.log``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

from tests.soak.harness import run
from tests.soak.plan import Rates, plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="offpath chaos soak on the local emulator")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4, help="MaximumConcurrency")
    parser.add_argument("--wave", type=int, default=1000, help="jobs enqueued at a time")
    parser.add_argument("--throttle-sqs", type=float, default=Rates.throttle_sqs)
    parser.add_argument("--throttle-dynamodb", type=float, default=Rates.throttle_dynamodb)
    parser.add_argument("--timeout", type=float, default=1500, help="seconds to drain")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a new temp dir")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="offpath-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    soak = plan(
        args.jobs,
        seed=args.seed,
        rates=replace(
            Rates(), throttle_sqs=args.throttle_sqs, throttle_dynamodb=args.throttle_dynamodb
        ),
    )
    print(f"soak: {args.jobs} jobs, seed {args.seed}, workdir {workdir}", file=sys.stderr)
    with _functions_output_to(workdir / "functions.log"):
        report = run(
            soak,
            workdir,
            concurrency=args.concurrency,
            wave=args.wave,
            timeout_s=args.timeout,
            log=lambda line: print(f"soak: {line}", file=sys.stderr, flush=True),
        )
    print(report.render())
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    return 0 if not report.violations() else 1


class _functions_output_to:
    """Point file descriptor 1, which the emulator's processes inherit, at a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.saved = -1

    def __enter__(self) -> None:
        sys.stdout.flush()
        self.saved = os.dup(1)
        target = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(target, 1)
        os.close(target)

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()
        os.dup2(self.saved, 1)
        os.close(self.saved)


if __name__ == "__main__":
    sys.exit(main())
