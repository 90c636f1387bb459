"""The ``offpath`` command line (developer tool; never shipped to Lambda)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="offpath: serverless background jobs for FastAPI on AWS.", no_args_is_help=True
)


@app.callback()
def _root() -> None:
    """offpath's developer and operator commands."""


def main() -> None:
    app()
