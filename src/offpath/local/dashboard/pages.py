"""The two pages, laid out around their parts: the dashboard and one job.

Each ``data-part`` element is filled server-side here, then refreshed in place by
``dashboard.js`` from the same renderers (:mod:`offpath.local.dashboard.parts`).
"""

from __future__ import annotations

from collections.abc import Mapping

from offpath.local.dashboard.chart import legend
from offpath.local.dashboard.markup import h

REFRESH_MS = 2000
TASK_SELECT_ATTRS = ' name="task"'
SECTIONS = (
    ("queues", "Queues"),
    ("jobs", "Recent jobs"),
    ("dlq", "Dead-letter queue"),
    ("schedules", "Schedules"),
    ("invocations", "Function invocations"),
)


def _shell(title: str, api_url: str | None, main: str) -> str:
    nav = "".join(f'<a href="/#{key}">{h(label)}</a>' for key, label in SECTIONS)
    api = f'<a href="{h(api_url)}">{h(api_url)}</a>' if api_url else "-"
    return (
        "<!doctype html>"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{h(title)}</title>"
        '<link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="/static/dashboard.css">'
        '<script src="/static/dashboard.js" defer></script>'
        f'</head><body data-refresh-ms="{REFRESH_MS}">'
        '<header class="top"><a class="brand" href="/">offpath <span>dev</span></a>'
        f"<nav>{nav}</nav>"
        f'<span class="meta">API {api}</span>'
        '<span id="live" class="live" data-state="static" title="refreshes every 2 s">'
        "live</span></header>"
        f"<main>{main}</main>"
        '<div id="flash" class="flash" role="status" aria-live="polite" hidden></div>'
        "</body></html>"
    )


def _part(name: str, parts: Mapping[str, str], tag: str = "div", attrs: str = "") -> str:
    return f'<{tag} data-part="{h(name)}"{attrs}>{parts.get(name, "")}</{tag}>'


def dashboard_page(parts: Mapping[str, str], status_options: str, api_url: str | None) -> str:
    """Every section on one page; ``parts`` from :meth:`Dashboard.parts`."""
    filters = (
        '<form class="filters" method="get" action="/#jobs" data-filters>'
        f'<label>status <select name="status">{status_options}</select></label>'
        f"<label>task {_part('task-options', parts, 'select', TASK_SELECT_ATTRS)}</label>"
        '<noscript><button type="submit">Filter</button></noscript></form>'
    )
    extras = {"queues": legend(), "jobs": filters}
    sections = "".join(
        f'<section id="{key}"><div class="section-head"><h2>{h(label)}</h2>'
        f"{extras.get(key, '')}</div>{_part(key, parts)}</section>"
        for key, label in SECTIONS
    )
    return _shell("offpath dev · dashboard", api_url, sections)


def job_page(job_id: str, parts: Mapping[str, str], api_url: str | None) -> str:
    main = (
        '<section id="job"><div class="section-head">'
        f'<h2>Job <code>{h(job_id)}</code></h2><a href="/#jobs">all jobs</a></div>'
        f"{_part('job', parts)}</section>"
    )
    return _shell(f"job {job_id} · offpath dev", api_url, main)


def not_found_page(path: str, api_url: str | None) -> str:
    main = f"<section><h2>Not found</h2><p>No page at <code>{h(path)}</code>.</p></section>"
    return _shell("not found · offpath dev", api_url, main)
