"""offpath's pytest plugin: the ``offpath_stack`` fixture (registered by the package's
``pytest11`` entry point, so installing offpath[dev] is enough).

Fixtures:
    offpath_template: the template the stack is built from: the ``offpath_template``
        ini option (relative to the rootdir), else ``template.yaml`` in the rootdir.
        Override the fixture to choose per module or per test.
    offpath_stack: a started :class:`~offpath.testing.OffpathStack`, fresh per test.

Nothing is imported until a fixture is used: a project without the ``dev`` extra
(no moto) can still run pytest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from offpath.testing.stack import OffpathStack


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "offpath_template",
        "the SAM template offpath_stack builds (relative to the rootdir)",
        default="template.yaml",
    )


@pytest.fixture
def offpath_template(request: pytest.FixtureRequest) -> Path:
    configured = str(request.config.getini("offpath_template"))
    return (Path(request.config.rootpath) / configured).resolve()


@pytest.fixture
def offpath_stack(offpath_template: Path) -> Iterator[OffpathStack]:
    from offpath.testing.stack import OffpathStack

    with OffpathStack(offpath_template) as stack:
        yield stack
