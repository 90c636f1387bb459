"""Where webhooks may go, and their signatures, checked with the reference library."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from offpath.callbacks import CallbackPolicy, CallbackRefused, Resolver, signature, signing_key


def _resolver(answers: Mapping[str, Sequence[str]]) -> Resolver:
    def resolve(host: str, port: int) -> Sequence[str]:
        if host not in answers:
            raise OSError("Name or service not known")
        return answers[host]

    return resolve


PUBLIC = {"hooks.example.com": ["93.184.215.14"], "v6.example.com": ["2606:2800:21f:cb07::1"]}


@pytest.mark.parametrize(
    ("url", "answers", "reason"),
    [
        ("http://hooks.example.com/x", PUBLIC, "https://"),
        ("https://internal.example.com/x", {"internal.example.com": ["10.0.0.5"]}, "private"),
        ("https://localhost/x", {"localhost": ["127.0.0.1"]}, "loopback"),
        ("https://meta.example.com/", {"meta.example.com": ["169.254.169.254"]}, "link-local"),
        ("https://[::1]/x", {"::1": ["::1"]}, "loopback"),
        ("https://mapped.example.com/", {"mapped.example.com": ["::ffff:10.1.2.3"]}, "private"),
        ("https://cgnat.example.com/", {"cgnat.example.com": ["100.64.0.1"]}, "reserved"),
        ("https://zero.example.com/", {"zero.example.com": ["0.0.0.0"]}, "reserved"),  # noqa: S104
        # One public and one private answer: the connection could use either.
        ("https://mixed.example.com/", {"mixed.example.com": ["93.184.215.14", "10.0.0.1"]}, "10."),
        ("https://nowhere.example.com/", PUBLIC, "does not resolve"),
        ("https://user:pw@hooks.example.com/", PUBLIC, "user name"),
        ("https:///nohost", PUBLIC, "needs a host"),
        ("https://hooks.example.com/" + "a" * 2100, PUBLIC, "2048"),
    ],
)
def test_on_aws_settings_a_callback_url_that_is_not_public_https_is_refused(
    url: str, answers: Mapping[str, Sequence[str]], reason: str
) -> None:
    policy = CallbackPolicy(resolver=_resolver(answers))
    with pytest.raises(CallbackRefused, match=reason) as refused:
        policy.check(url)
    assert refused.value.field == "callback_url"


def test_a_public_https_url_is_allowed_and_the_checked_address_is_kept() -> None:
    policy = CallbackPolicy(resolver=_resolver(PUBLIC))
    target = policy.check("https://Hooks.Example.com:8443/in?x=1")
    assert (target.host, target.port, target.path, target.address) == (
        "hooks.example.com",
        8443,
        "/in?x=1",
        "93.184.215.14",
    )
    assert policy.check("https://v6.example.com/").address == "2606:2800:21f:cb07::1"


def test_the_allow_list_admits_only_its_hosts() -> None:
    answers = {**PUBLIC, "other.example.com": ["93.184.215.15"]}
    policy = CallbackPolicy(frozenset({"hooks.example.com"}), resolver=_resolver(answers))
    policy.check("https://hooks.example.com/")
    with pytest.raises(CallbackRefused, match="not in the allowed hosts"):
        policy.check("https://other.example.com/")


def test_locally_http_and_loopback_are_allowed_but_not_private_addresses() -> None:
    answers = {"localhost": ["127.0.0.1", "::1"], "lan.example.com": ["192.168.1.9"]}
    policy = CallbackPolicy(allow_loopback=True, resolver=_resolver(answers))
    assert policy.check("http://localhost:8080/hook").address == "127.0.0.1"
    with pytest.raises(CallbackRefused, match="private"):
        policy.check("http://lan.example.com/hook")


def test_signatures_verify_with_the_standard_webhooks_reference_library() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = json.dumps({"type": "offpath.job.succeeded", "data": {"job_id": "j1"}})
    now = int(datetime.now(UTC).timestamp())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": signature(signing_key(secret), "msg_1", now, body),
    }

    assert Webhook(secret).verify(body, headers) == json.loads(body)
    # The same key without the prefix (as the template's secret holds it).
    assert signing_key(secret.removeprefix("whsec_")) == signing_key(secret)
