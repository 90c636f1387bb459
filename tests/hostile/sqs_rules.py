"""SQS's own message rules, enforced on a client the way AWS enforces them.

moto checks one thing about a message: that its body is not longer than the queue's
``MaximumMessageSize`` *in characters*. AWS checks more, and a worker that passes on
moto can still fail on AWS exactly when it handles hostile input:

- the characters allowed in a body and in string attribute values are
  ``#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF``: no NUL, no
  other C0 control, no lone surrogate, no U+FFFE/U+FFFF;
- the 1 MiB limit counts the body *and* the message attributes (name, data type and
  value of each, in UTF-8 bytes);
- at most 10 message attributes.

:class:`SqsRules` listens on botocore's ``before-call`` event and answers a
``SendMessage`` that breaks a rule with the error AWS would send (HTTP 400), so the
code under test sees the same ``ClientError`` it would see on AWS; a message that
keeps the rules goes on to moto unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from offpath.envelope import SQS_MAX_MESSAGE_BYTES

MAX_MESSAGE_ATTRIBUTES = 10

# The complement of the characters SQS accepts.
FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def forbidden_characters(text: str) -> list[str]:
    """The characters of ``text`` that SQS refuses, as ``#xNN`` like its errors name them."""
    return [f"#x{ord(c):X}" for c in FORBIDDEN.findall(text)]


def message_size_bytes(body: str, attributes: dict[str, Any]) -> int:
    """Body plus attributes, as SQS counts toward its size limit.

    ``surrogatepass``: a lone surrogate is refused by the character rule; here it
    only has to be countable.
    """
    size = len(body.encode("utf-8", "surrogatepass"))
    for name, value in attributes.items():
        size += len(name.encode()) + len(str(value.get("DataType", "")).encode())
        if "StringValue" in value:
            size += len(str(value["StringValue"]).encode("utf-8", "surrogatepass"))
        if "BinaryValue" in value:
            size += len(value["BinaryValue"])
    return size


def violation(body: str, attributes: dict[str, Any]) -> tuple[str, str] | None:
    """``(code, message)`` of the error AWS answers this message with, or None."""
    bad = forbidden_characters(body)
    if bad:
        return "InvalidMessageContents", f"Invalid binary character '{bad[0]}' in the body"
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        return "InvalidParameterValue", f"Number of message attributes [{len(attributes)}] > 10"
    for name, value in attributes.items():
        text = value.get("StringValue")
        if text is not None and forbidden_characters(str(text)):
            char = forbidden_characters(str(text))[0]
            return "InvalidParameterValue", f"Message attribute '{name}' has invalid {char}"
        if text == "":
            return "InvalidParameterValue", f"Message attribute '{name}' must have a value"
    size = message_size_bytes(body, attributes)
    if size > SQS_MAX_MESSAGE_BYTES:
        return (
            "InvalidParameterValue",
            "One or more parameters are invalid. Reason: Message must be shorter than "
            f"{SQS_MAX_MESSAGE_BYTES} bytes (body and attributes: {size}).",
        )
    return None


@dataclass
class SqsRules:
    """Makes one SQS client refuse what AWS refuses; counts what it refused."""

    refused: list[tuple[str, str]] = field(default_factory=list)

    def attach(self, client: Any) -> SqsRules:
        # Validate the caller's parameters, answer before the request is sent.
        client.meta.events.register("provide-client-params.sqs.SendMessage", self._check)
        client.meta.events.register("before-call.sqs.SendMessage", self._answer)
        return self

    def _check(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        found = violation(str(params.get("MessageBody", "")), params.get("MessageAttributes", {}))
        if found is not None:
            context["offpath_sqs_rule"] = found

    def _answer(
        self, context: dict[str, Any], **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        found = context.get("offpath_sqs_rule")
        if found is None:
            return None  # no answer: botocore sends the request
        self.refused.append(found)
        code, message = found
        parsed = {
            "Error": {"Code": code, "Message": message, "Type": "Sender"},
            "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}, "RetryAttempts": 0},
        }
        return AWSResponse("https://sqs.amazonaws.com/", 400, HTTPHeaders(), None), parsed
