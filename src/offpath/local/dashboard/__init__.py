"""A local dashboard for ``offpath dev``, served on its control server's port.

Queues (with a chart of the last minutes), recent jobs, the dead-letter queue,
schedules and function invocations, refreshed every two seconds. Server-rendered
HTML and one small script (``static/dashboard.js``); nothing is loaded from the
network. See ``docs/dashboard.md``.
"""

from offpath.local.dashboard.app import Dashboard, Request, Response

__all__ = ["Dashboard", "Request", "Response"]
