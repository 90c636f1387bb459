"""Records an emulated function's AWS calls (tests only: see tests/iam_calls.py).

Python imports ``sitecustomize`` at start-up from ``sys.path``; the tests put this
directory on ``PYTHONPATH`` of the emulator's function processes, with the dump
directory in ``OFFPATH_IAM_CALLS``. Elsewhere it does nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.iam_record import iam_recorder
else:  # this directory is on sys.path, not the repository
    import iam_recorder


def _start() -> None:
    directory = os.environ.get(iam_recorder.DUMP_DIRECTORY_ENV)
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if directory and function:
        iam_recorder.record_this_process(Path(directory), function)


_start()
