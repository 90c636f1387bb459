"""The library knows nothing of the example app: no module, resource, task or route of it.

offpath finds its resources by rule (offpath.location) and reads its task modules from
OFFPATH_TASK_MODULES, so nothing in src/offpath needs the example's names, not even
as a default.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from offpath.location.layout import discover, read_template

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "src" / "offpath"


def example_names() -> set[str]:
    """The example app's own names: its resources, modules, tasks, schedules and routes."""
    template = read_template(ROOT / "template.yaml")
    names = set(template["Resources"])
    names |= {"functions.shared", "functions.api", "functions.worker", "functions.scheduler"}
    names |= {"EXAMPLE_OUTBOX", "outbox", "/reports", "/signup", "/payments"}
    for resource in template["Resources"].values():
        for event_name in (resource.get("Properties") or {}).get("Events", {}):
            names.add(event_name)
    tasks = (ROOT / "functions" / "shared" / "tasks.py").read_text()
    names |= set(re.findall(r"^(?:async )?def ([a-z]\w+)\(", tasks, flags=re.MULTILINE))
    # Words that are the platform's or plain English before they are the example's:
    # SAM's HttpApi type, event names like Root, a task called reject.
    return names - {"HttpApi", "Root", "Proxy", "Jobs", "reject"}


def test_the_example_names_are_many() -> None:
    names = example_names()
    assert {"JobsQueue", "WorkerFunction", "generate_report", "DailyDigest"} <= names
    assert discover(read_template(ROOT / "template.yaml")).table in names


@pytest.mark.parametrize(
    "path",
    sorted(p for p in LIBRARY.rglob("*") if p.suffix in {".py", ".js", ".css"}),
    ids=lambda p: str(p.relative_to(LIBRARY)),
)
def test_no_library_file_names_the_example_app(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = sorted(n for n in example_names() if re.search(rf"(?<![\w.]){re.escape(n)}\b", text))
    assert found == []
