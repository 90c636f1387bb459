"""Where each AWS service of ``offpath dev`` is: one URL for all, or one per service.

boto3 reads ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` (the per-service
one wins). The emulator provisions on exactly the endpoints its functions will use:
it resolves the map once, builds its own clients from it, and gives the functions the
same map as those variables, so a queue is never created on one backend while the
functions send to another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# boto3 client name -> the suffix of its AWS_ENDPOINT_URL_<SERVICE> variable (the
# service's id, upper-cased: EventBridge's client is "events").
SERVICES = {
    "sqs": "SQS",
    "dynamodb": "DYNAMODB",
    "scheduler": "SCHEDULER",
    "events": "EVENTBRIDGE",
}


@dataclass(frozen=True)
class Endpoints:
    """A URL per service, with a default for the others."""

    default: str | None = None
    services: Mapping[str, str] = field(default_factory=dict)

    def url(self, service: str) -> str | None:
        """The endpoint of ``service`` (a boto3 client name), or None for AWS itself."""
        return self.services.get(service, self.default)

    def environment(self) -> dict[str, str]:
        """The variables that make boto3 (in a function) resolve this same map."""
        env = {"AWS_ENDPOINT_URL": self.default} if self.default else {}
        for service, url in self.services.items():
            env[f"AWS_ENDPOINT_URL_{SERVICES.get(service, service.upper())}"] = url
        return env

    def describe(self) -> str:
        """One line for the console: the default, then each service that differs."""
        parts = [self.default or "AWS"]
        parts += [f"{s}={u}" for s, u in sorted(self.services.items()) if u != self.default]
        return ", ".join(parts)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Endpoints | None:
        """The map a shell's ``AWS_ENDPOINT_URL*`` variables describe, or None if none is set."""
        services = {
            service: environ[f"AWS_ENDPOINT_URL_{suffix}"]
            for service, suffix in SERVICES.items()
            if environ.get(f"AWS_ENDPOINT_URL_{suffix}")
        }
        default = environ.get("AWS_ENDPOINT_URL") or None
        if default is None and not services:
            return None
        return cls(default, services)

    def overlay(self, other: Endpoints) -> Endpoints:
        """These endpoints, with ``other``'s per-service ones on top."""
        return Endpoints(other.default or self.default, {**self.services, **other.services})
