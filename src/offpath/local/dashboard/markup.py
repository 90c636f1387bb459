"""HTML building blocks. Every value reaches the markup through :func:`h`.

The renderers build HTML with f-strings; the one rule that keeps them safe is that
no value is interpolated raw: text and attribute values alike go through :func:`h`
(``html.escape`` with quotes), URLs through :func:`path_url` first.

Example:
    >>> h('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode


def h(value: object) -> str:
    """``value`` as text safe in an element or a quoted attribute (None is empty)."""
    return html.escape("" if value is None else str(value), quote=True)


def path_url(*segments: str, query: dict[str, str] | None = None) -> str:
    """A local URL with each segment percent-encoded (job ids may hold ``:``)."""
    url = "/" + "/".join(quote(segment, safe="") for segment in segments)
    kept = {key: value for key, value in (query or {}).items() if value}
    return f"{url}?{urlencode(kept)}" if kept else url


def action_button(
    label: str, url: str, *, body: dict[str, Any] | None = None, confirm: str | None = None
) -> str:
    """A button the script POSTs ``body`` to ``url`` with, after ``confirm()`` if given.

    The server decides the URL, the body and the question; the script knows none of
    the actions by name.
    """
    confirm_attr = f' data-confirm="{h(confirm)}"' if confirm else ""
    return (
        f'<button type="button" data-post="{h(url)}" data-body="{h(json.dumps(body or {}))}"'
        f"{confirm_attr}>{h(label)}</button>"
    )


def moment(value: datetime | None, tz_label: str = "UTC") -> str:
    """A ``<time>`` element showing ``value`` in UTC, to the second."""
    if value is None:
        return '<span class="none">-</span>'
    utc = value.astimezone(UTC)
    return (
        f'<time datetime="{h(utc.isoformat())}">'
        f"{h(utc.strftime('%Y-%m-%d %H:%M:%S'))} {h(tz_label)}</time>"
    )


def ago(value: datetime | None, now: datetime) -> str:
    """How long before ``now`` ``value`` was, with the exact time as a tooltip."""
    if value is None:
        return '<span class="none">-</span>'
    utc = value.astimezone(UTC)
    text = span_text((now - value).total_seconds())
    return (
        f'<time datetime="{h(utc.isoformat())}" title="{h(utc.strftime("%Y-%m-%d %H:%M:%S"))}'
        f' UTC">{h(text)} ago</time>'
    )


def span_text(seconds: float | None) -> str:
    """``4 s``, ``3 min 20 s``, ``2 h 5 min``, ``3 d 4 h``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def between(start: datetime | None, end: datetime | None) -> str:
    """The span from ``start`` to ``end`` as text, ``-`` if either is missing."""
    if start is None or end is None:
        return "-"
    seconds = (end - start).total_seconds()
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else span_text(seconds)


def badge(text: str, kind: str | None = None) -> str:
    """A coloured label; ``kind`` picks the colour (a job status, ``cold``, ``error``...)."""
    return f'<span class="badge badge-{h(kind or text)}">{h(text)}</span>'


def pretty_json(value: Any) -> str:
    """``value`` as indented JSON in a ``<pre>``."""
    return f"<pre>{h(json.dumps(value, indent=2, sort_keys=True, default=str))}</pre>"


def shorten(text: str | None, limit: int = 120) -> str:
    """``text`` cut to ``limit`` characters (the whole of it in the tooltip)."""
    if not text:
        return ""
    if len(text) <= limit:
        return h(text)
    return f'<span title="{h(text)}">{h(text[: limit - 1])}…</span>'


def empty_row(columns: int, text: str) -> str:
    return f'<tr class="empty"><td colspan="{columns}">{h(text)}</td></tr>'
