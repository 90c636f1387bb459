"""Outbound webhook calls: where they may go (SSRF), how they are signed, how sent.

- **Where** (:class:`CallbackPolicy`): HTTPS only; an optional allow-list of hosts;
  after DNS resolution, no private, loopback, link-local, multicast, reserved or
  unspecified address. Locally (``allow_loopback``), ``http`` and loopback are
  allowed so a developer can watch the call. The check runs at enqueue (a clear
  422) and again at each send, on the addresses the send will use.
- **Signed** as Standard Webhooks (https://www.standardwebhooks.com):
  ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256
  of "id.timestamp.body">``, with a ``whsec_<base64>`` secret, so receivers verify it
  with that spec's libraries.
- **Sent** with urllib3 (already here: botocore's own HTTP client) to the very IP
  address that was checked, with the URL's host name for TLS (SNI and certificate)
  and ``Host``, so a DNS answer that changes between check and connect (rebinding)
  cannot redirect it; a short timeout; redirects never followed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import urllib3

from offpath.errors import InvalidJobRequest, PermanentError

MAX_URL_CHARS = 2048
TIMEOUT_S = 5.0
SECRET_PREFIX = "whsec_"  # the format's prefix, not a secret  # noqa: S105  # nosec B105

Resolver = Callable[[str, int], Sequence[str]]


class CallbackRefused(InvalidJobRequest):
    """A ``callback_url`` the policy does not allow (``field`` is ``callback_url``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="callback_url")


class ReceiverRefused(PermanentError):
    """At send time the URL no longer passes the policy: never retried."""


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``address``) and what to call it."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


@dataclass(frozen=True)
class CallbackPolicy:
    """Which callback URLs are allowed.

    Attributes:
        allowed_hosts: if not empty, only these host names (exact, lower case).
        allow_loopback: local development: ``http`` and loopback addresses allowed.
    """

    allowed_hosts: frozenset[str] = frozenset()
    allow_loopback: bool = False
    resolver: Resolver = field(default=resolve, compare=False)

    def check_syntax(self, url: str) -> None:
        """What needs no DNS: length, scheme, host, allow-list.

        Raises:
            CallbackRefused: with the reason.
        """
        self._parts(url)

    def check(self, url: str) -> Target:
        """Check ``url`` and resolve it; the address a send must connect to.

        Raises:
            CallbackRefused: with the reason (a 422 at the API).
        """
        scheme, host, port, path = self._parts(url)
        try:
            addresses = self.resolver(host, port)
        except OSError as exc:
            raise CallbackRefused(f"callback_url host {host!r} does not resolve: {exc}") from None
        if not addresses:
            raise CallbackRefused(f"callback_url host {host!r} does not resolve")
        for address in addresses:
            # Every answer must pass, not just one: the connection could use any.
            self._check_address(host, address)
        return Target(scheme, host, port, path, addresses[0])

    def _parts(self, url: str) -> tuple[str, str, int, str]:
        if not isinstance(url, str) or not 0 < len(url) <= MAX_URL_CHARS:
            raise CallbackRefused(f"callback_url must be 1-{MAX_URL_CHARS} characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise CallbackRefused(f"callback_url is not a URL: {exc}") from None
        allowed_schemes = ("https", "http") if self.allow_loopback else ("https",)
        if parts.scheme not in allowed_schemes:
            raise CallbackRefused("callback_url must be an https:// URL")
        host = (parts.hostname or "").lower()
        if not host or parts.username is not None or parts.password is not None:
            raise CallbackRefused("callback_url needs a host and no user name or password")
        if self.allowed_hosts and host not in self.allowed_hosts:
            raise CallbackRefused(f"callback_url host {host!r} is not in the allowed hosts")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = 443 if parts.scheme == "https" else 80
        return parts.scheme, host, port or default_port, path

    def _check_address(self, host: str, address: str) -> None:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_loopback and self.allow_loopback:
            return
        if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
            raise CallbackRefused(
                f"callback_url host {host!r} resolves to {ip}, a private, loopback, "
                "link-local or reserved address"
            )


def signing_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix is optional)."""
    raw = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


def signature(key: bytes, msg_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``."""
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Response:
    status: int


class Sender:
    """POSTs one signed body to a checked target (the connection is to its address)."""

    def __init__(self, policy: CallbackPolicy, *, timeout_s: float = TIMEOUT_S) -> None:
        self.policy = policy
        self.timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)

    def post(self, url: str, headers: dict[str, str], body: str) -> Response:
        """Send; the receiver's status code.

        Raises:
            ReceiverRefused: the URL no longer passes the policy.
            OSError, urllib3.exceptions.HTTPError: the connection failed (retryable).
        """
        try:
            target = self.policy.check(url)
        except CallbackRefused as exc:
            raise ReceiverRefused(str(exc)) from None
        pool: urllib3.HTTPConnectionPool
        if target.scheme == "https":
            # Connect to the checked address; verify the certificate for the host name.
            pool = urllib3.HTTPSConnectionPool(
                target.address,
                target.port,
                timeout=self.timeout,
                retries=False,
                server_hostname=target.host,
                assert_hostname=target.host,
                cert_reqs="CERT_REQUIRED",
            )
        else:
            pool = urllib3.HTTPConnectionPool(
                target.address, target.port, timeout=self.timeout, retries=False
            )
        with pool:
            answer = pool.urlopen(
                "POST",
                target.path,
                body=body.encode(),
                headers={**headers, "Host": _host_header(target)},
                redirect=False,
                retries=False,
                preload_content=True,
            )
        return Response(answer.status)


def _host_header(target: Target) -> str:
    default = 443 if target.scheme == "https" else 80
    return target.host if target.port == default else f"{target.host}:{target.port}"
