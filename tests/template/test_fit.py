"""Every task fits its pool: the project's template, and misfits refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse
from typer.testing import CliRunner

from offpath.cli import app
from offpath.fit import Misfit, PoolLimits, check, hand_backs, misfits, pool_limits
from offpath.local.fit_check import check_template_fit
from offpath.local.topology import read_topology
from offpath.location.layout import discover
from offpath.runtime import check_own_pool_fits, import_task_modules
from offpath.tasks import TaskRegistry

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


def project_tasks() -> TaskRegistry:
    # The default registry, as the functions fill it from OFFPATH_TASK_MODULES.
    from offpath.tasks import registry

    return import_task_modules(["functions.shared.tasks"], registry)


def test_every_task_of_the_project_fits_its_pool_in_the_template() -> None:
    layout = discover(yaml_parse(TEMPLATE.read_text(encoding="utf-8")))
    limits = pool_limits(layout, read_topology(TEMPLATE))

    assert misfits(project_tasks(), limits) == []
    assert limits["heavy"] == PoolLimits("heavy", "HeavyWorkerFunction", 600, 3600, 1)
    assert (limits["default"].timeout_s, limits["default"].batch_size) == (60, 10)
    # A batch of ten 45 s jobs in a 60 s invocation: one runs, nine are handed back.
    assert hand_backs(project_tasks(), limits["default"]) == 9
    assert hand_backs(project_tasks(), limits["heavy"]) == 0


def test_a_misfit_names_the_task_the_pool_and_the_numbers() -> None:
    tasks = TaskRegistry()

    @tasks.task(timeout_s=540)
    def render_pdf() -> None:
        """Five minutes of work sent to the quick pool."""

    @tasks.task(pool="gpu")
    def train() -> None:
        """Of a pool nobody declared."""

    pools = {
        "default": PoolLimits("default", "WorkerFunction", 60, 360, 10),
        "slow": PoolLimits("slow", "SlowFunction", 960, 3600, 1),
    }

    with pytest.raises(Misfit) as raised:
        check(tasks, pools)

    message = str(raised.value)
    assert (
        "task render_pdf (timeout_s=540) does not fit pool 'default': with the worker's 2 s "
        "margin it needs 542 s, and WorkerFunction's Timeout is 60 s" in message
    )
    assert "task train runs in pool 'gpu', which the template does not declare" in message
    assert "pool 'slow': SlowFunction's Timeout 960 s is over Lambda's 900 s" in message
    assert "pool 'slow': its queue's VisibilityTimeout 3600 s is under 6 x" in message


def test_offpath_dev_refuses_to_start_a_template_whose_task_cannot_fit(tmp_path: Path) -> None:
    # The heavy worker's Timeout cut to 300 s: build_report_archive's 540 s cannot fit.
    text = TEMPLATE.read_text(encoding="utf-8")
    assert text.count("      Timeout: 600 #") == 1
    shrunk = tmp_path / "template.yaml"
    shrunk.write_text(text.replace("      Timeout: 600 #", "      Timeout: 300 #"), "utf-8")
    project_tasks()

    with pytest.raises(Misfit, match=r"task build_report_archive \(timeout_s=540\)"):
        check_template_fit(shrunk)
    result = CliRunner().invoke(app, ["dev", "--template", str(shrunk)])

    assert result.exit_code == 2
    assert "build_report_archive" in result.output and "HeavyWorkerFunction" in result.output
    assert "300 s" in result.output


def test_a_worker_refuses_at_init_a_task_of_its_pool_that_cannot_fit() -> None:
    tasks = TaskRegistry()

    @tasks.task(pool="heavy", timeout_s=540)
    def render_pdf() -> None:
        """Heavy."""

    environ = {"AWS_LAMBDA_FUNCTION_TIMEOUT": "300", "AWS_LAMBDA_FUNCTION_NAME": "heavy-fn"}
    with pytest.raises(Misfit, match="needs 542 s, and heavy-fn's Timeout is 300 s"):
        check_own_pool_fits(tasks, "heavy", environ)
    # Another pool's worker does not run it: nothing to refuse there; nor where the
    # timeout is not told (Lambda itself does not set it).
    check_own_pool_fits(tasks, "default", environ)
    check_own_pool_fits(tasks, "heavy", {})
