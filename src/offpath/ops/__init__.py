"""Operator tooling: the dead-letter queue, queue status, job records.

Developer-side, like :mod:`offpath.local`: the CLI (``offpath dlq``, ``offpath
status``, ``offpath jobs``, ``offpath enqueue``) drives these engines against the
running ``offpath dev`` or a deployed stack (:mod:`offpath.ops.target`). None of it
runs in a Lambda function.
"""
