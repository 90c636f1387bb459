"""Settings every entry point reads alike, and the errors that name a missing one."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from offpath.aws import Clients
from offpath.cli import app
from offpath.errors import ConfigurationError
from offpath.location import LocationNotFound
from offpath.runtime import build_worker, load_tasks
from offpath.settings import Settings, parse_task_modules

QUEUE_URL = "http://127.0.0.1:9/000000000000/q"


def test_task_modules_are_a_comma_separated_list() -> None:
    assert parse_task_modules(" app.tasks, app.more ,,") == ["app.tasks", "app.more"]


@pytest.mark.parametrize("value", [None, "", " , "])
def test_no_task_modules_is_an_error_naming_the_setting(value: str | None) -> None:
    with pytest.raises(ConfigurationError, match="OFFPATH_TASK_MODULES is not set"):
        parse_task_modules(value)


def test_a_task_module_that_does_not_import_is_named_with_the_setting() -> None:
    settings = Settings(queue_url=QUEUE_URL, table_name="jobs", task_modules="app.nowhere")

    with pytest.raises(ConfigurationError) as caught:
        load_tasks(settings)

    assert "OFFPATH_TASK_MODULES names app.nowhere, which cannot be imported" in str(caught.value)
    assert isinstance(caught.value.__cause__, ImportError)


def test_where_the_jobs_live_must_be_said() -> None:
    with pytest.raises(LocationNotFound, match="OFFPATH_QUEUE_URL, OFFPATH_TABLE_NAME not set"):
        Settings().location()


def test_a_worker_needs_its_dead_letter_queue() -> None:
    settings = Settings(queue_url=QUEUE_URL, table_name="jobs", task_modules="offpath.tasks")

    with pytest.raises(ConfigurationError, match="pool default has no dead-letter queue"):
        build_worker(settings, Clients("us-east-1"))


def test_the_cli_names_the_setting_when_no_task_modules_are_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A directory with no template.yaml, the queue and table exported, no task modules.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OFFPATH_QUEUE_URL", QUEUE_URL)
    monkeypatch.setenv("OFFPATH_TABLE_NAME", "jobs")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")

    result = CliRunner().invoke(app, ["enqueue", "generate_report"])

    assert result.exit_code == 1
    assert "OFFPATH_TASK_MODULES is not set" in result.stderr


def test_settings_come_from_the_environment_whatever_the_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("offpath_queue_url", QUEUE_URL)
    monkeypatch.setenv("OFFPATH_JOB_TTL_S", " 60 ")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.setenv("OFFPATH_NOT_A_SETTING", "ignored")

    settings = Settings()

    assert (settings.queue_url, settings.job_ttl_s, settings.region) == (QUEUE_URL, 60, "eu-west-3")


def test_a_keyword_beats_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFPATH_TABLE_NAME", "from-env")
    assert Settings(table_name="given").table_name == "given"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "Input should be a valid integer, unable to parse string as an integer"),
        ("", "Input should be a valid integer, unable to parse string as an integer"),
        ("0", "Input should be greater than 0"),
    ],
)
def test_a_bad_setting_in_the_environment_names_the_field_and_the_rule(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    # The messages pydantic-settings gave, word for word: scripts may match on them.
    monkeypatch.setenv("OFFPATH_JOB_TTL_S", value)

    with pytest.raises(ValidationError) as caught:
        Settings()

    text = str(caught.value)
    assert text.startswith("1 validation error for Settings\njob_ttl_s\n  " + message)
    assert f"input_value={value!r}, input_type=str" in text
