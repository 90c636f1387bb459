"""The recording half of the least-privilege check (tests/iam_calls.py).

This directory is also put on ``PYTHONPATH`` of the emulator's function processes
(:func:`tests.iam_calls.function_environment`), where its ``sitecustomize`` records
their calls too.
"""
