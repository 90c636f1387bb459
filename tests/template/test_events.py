"""events/*.json (for `sam local invoke -e`): valid, and in step with the code and the template."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from offpath.envelope import Envelope
from offpath.errors import MalformedMessage

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


def load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def schedule_input(event_id: str) -> Any:
    template = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    event = template["Resources"]["SchedulerFunction"]["Properties"]["Events"][event_id]
    return json.loads(event["Properties"]["Input"])


@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS.glob("*.json")))
def test_every_event_file_is_a_json_object(name: str) -> None:
    assert isinstance(load(name), dict), name


@pytest.mark.parametrize("name", ["sqs.json", "sqs-partial-failure.json"])
def test_sqs_events_look_like_the_event_source_mapping_sends_them(name: str) -> None:
    records = load(name)["Records"]
    assert records
    assert len({r["messageId"] for r in records}) == len(records)
    for record in records:
        assert record["eventSource"] == "aws:sqs"
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()  # noqa: S324
        assert int(record["attributes"]["ApproximateReceiveCount"]) >= 1


def test_sqs_event_carries_a_valid_envelope() -> None:
    (record,) = load("sqs.json")["Records"]
    envelope = Envelope.from_body(record["body"])
    assert envelope.task == "generate_report"
    assert envelope.args == {"user_id": 42, "month": "2026-06"}
    assert envelope.v == 1


def test_partial_failure_event_has_exactly_one_malformed_record() -> None:
    records = load("sqs-partial-failure.json")["Records"]
    malformed = []
    for record in records:
        try:
            Envelope.from_body(record["body"])
        except MalformedMessage:
            malformed.append(record["messageId"])
    assert malformed == [records[1]["messageId"]]


def test_http_api_event_posts_a_report_request() -> None:
    event = load("http-api-post-reports.json")
    assert event["version"] == "2.0"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/reports"
    body = event["body"]
    if event["isBase64Encoded"]:
        body = base64.b64decode(body).decode()
    assert json.loads(body) == {"user_id": 42, "month": "2026-06"}


def test_rest_api_event_gets_healthz() -> None:
    event = load("rest-api-get-healthz.json")
    assert "version" not in event  # payload format 1.0
    assert event["httpMethod"] == event["requestContext"]["httpMethod"] == "GET"
    assert event["path"] == "/healthz"


@pytest.mark.parametrize(
    ("name", "event_id"),
    [
        ("schedule-v2-daily-digest.json", "DailyDigest"),
        ("schedule-v2-exchange-rates.json", "ExchangeRates"),
    ],
)
def test_schedule_events_are_the_template_inputs(name: str, event_id: str) -> None:
    # With an Input, a rule (Schedule) and EventBridge Scheduler (ScheduleV2)
    # both hand the function that JSON alone, without the scheduled-event envelope;
    # Scheduler first fills its context attributes, as the sample shows.
    expected = schedule_input(event_id)
    if expected.get("scheduled_time") == "<aws.scheduler.scheduled-time>":
        expected["scheduled_time"] = load(name)["scheduled_time"]
    assert load(name) == expected
