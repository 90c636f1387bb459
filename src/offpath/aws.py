"""The one place AWS clients are built.

botocore resolves ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` itself, so the
same code talks to AWS, moto's server or LocalStack without a flag of ours.

Clients come from a botocore session unless a boto3 session is given: boto3's import
(s3transfer, resources) adds about 70 ms to a cold start, and it would build exactly
the same SQS, DynamoDB and Scheduler clients.

Every botocore session made here shares the first one's data loader, which caches the
service models it has read (read-only JSON): a new session, as after a SnapStart
restore (:mod:`offpath.snapstart`), then builds its clients without reading and
parsing them again (60-100 ms for SQS and DynamoDB on a fresh loader).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import botocore.session
from botocore import UNSIGNED
from botocore.config import Config

if TYPE_CHECKING:
    import boto3
    from botocore.loaders import Loader
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

# Standard retry mode backs off on throttling (SQS, DynamoDB) with jitter; short
# timeouts keep a hung connection from eating the Lambda's whole budget.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=3,
    read_timeout=10,
    tcp_keepalive=True,
)


class _Models:
    """The data loader every botocore session made here shares (the first one's)."""

    loader: Loader | None = None


def _botocore_session() -> botocore.session.Session:
    session = botocore.session.get_session()
    if _Models.loader is None:
        _Models.loader = cast("Loader", session.get_component("data_loader"))
    else:
        session.register_component("data_loader", _Models.loader)
    return session


def load_models(services: Iterable[str], region: str) -> None:
    """Read these services' models (and the endpoint data) into the shared loader, so
    that the clients built later, by any session made here, find them read.

    Nothing is signed and no credentials are resolved: the throwaway clients are
    unsigned, so a SnapStart snapshot taken after this holds no one's credentials.
    """
    session = _botocore_session()
    for service in services:
        session.create_client(
            service, region_name=region, config=Config(signature_version=UNSIGNED)
        )


# Every Clients made in this process, for forget_clients (weak: a Clients no one
# holds any more is not kept alive by this).
_made: weakref.WeakValueDictionary[int, Clients] = weakref.WeakValueDictionary()


def forget_clients() -> None:
    """Make every :class:`Clients` of this process forget the clients it has built
    (see :meth:`Clients.forget`): what a SnapStart restore needs."""
    for clients in list(_made.values()):
        clients.forget()


@dataclass
class Clients:
    """Lazily built clients sharing one session: build once per container."""

    region: str
    endpoint_url: str | None = None  # None: boto3's own resolution (AWS_ENDPOINT_URL*, AWS)
    session: boto3.session.Session | None = None
    # Per service (boto3 client name -> URL), over endpoint_url: `offpath dev` on
    # several backends at once (LocalStack's SQS beside moto's DynamoDB).
    service_endpoints: Mapping[str, str] = field(default_factory=dict)

    _botocore: botocore.session.Session | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        _made[id(self)] = self

    def forget(self) -> None:
        """Drop the clients built so far and the botocore session behind them: the next
        use builds new ones, with connections of their own and the credentials resolved
        anew (a boto3 ``session`` given keeps the credentials it has resolved).

        An object that took a client from here keeps that client; build such objects
        again (:func:`offpath.runtime.new_container` does it for the handlers' wiring).
        """
        for klass in type(self).__mro__:
            for name, attribute in vars(klass).items():
                if isinstance(attribute, cached_property):
                    self.__dict__.pop(name, None)
        self._botocore = None

    def _client(self, service: str) -> object:
        """A client of ``service``; each caller casts it to that service's stub type."""
        endpoint = self.endpoint_for(service)
        if self.session is not None:
            # boto3-stubs types client() per service literal; the callers cast the result.
            make = cast("Callable[..., object]", self.session.client)
            return make(service, config=CLIENT_CONFIG, endpoint_url=endpoint)
        if self._botocore is None:
            self._botocore = _botocore_session()
        client: object = self._botocore.create_client(
            service, region_name=self.region, config=CLIENT_CONFIG, endpoint_url=endpoint
        )
        return client

    def endpoint_for(self, service: str) -> str | None:
        return self.service_endpoints.get(service, self.endpoint_url)

    @cached_property
    def sqs(self) -> SQSClient:
        return cast("SQSClient", self._client("sqs"))

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return cast("DynamoDBClient", self._client("dynamodb"))

    @cached_property
    def scheduler(self) -> EventBridgeSchedulerClient:
        return cast("EventBridgeSchedulerClient", self._client("scheduler"))

    @cached_property
    def events(self) -> EventBridgeClient:
        return cast("EventBridgeClient", self._client("events"))

    @cached_property
    def secretsmanager(self) -> SecretsManagerClient:
        return cast("SecretsManagerClient", self._client("secretsmanager"))


C = TypeVar("C")


class _Deferred(Generic[C]):
    """Stands in for a client until its first attribute is read."""

    def __init__(self, build: Callable[[], C]) -> None:
        self._build = build
        self._client: C | None = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._build()
        return getattr(self._client, name)


def deferred(build: Callable[[], C]) -> C:
    """A client built on first use: for paths most invocations never take.

    The worker's SQS client serves only retries, hand-backs and dead letters, and a
    producer's Scheduler client only delays past 15 minutes; building each costs a
    cold start 20-40 ms.

    Example:
        >>> sqs = deferred(lambda: clients.sqs)  # doctest: +SKIP
    """
    # The stand-in answers every attribute as the client would, so it is typed as one.
    return cast(C, _Deferred(build))
