"""
`HttpContext`: the store objects and settings every HTTP resource uses, built
once by the service and handed to `gateway.http.site.make_site`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.channels import Channels
from gateway.http.auth import AccountCache, Authenticator, FailedLogins, shared_logins
from gateway.http.errors import ServiceUnavailable
from gateway.http.sending import Sender
from gateway.http.signing import CallbackSigner

__all__ = ["HttpContext", "PendingContext"]


@dataclass
class HttpContext:
    """What the HTTP APIs work with.

    ``acceptor`` is the shared `IAcceptor` (wrap it in
    `gateway.store.index.IndexingAcceptor` so the archive sees every
    message); ``providers`` maps provider names to the providers, of which
    those with a ``handle_dlr`` take inbound DLR callbacks at ``/dlr/<name>``
    and Telegram bots in webhook mode their updates at ``/telegram/<name>``;
    ``channels`` is the `gateway.channels.Channels` registry the acceptor
    applies (the engine's), so that the APIs take exactly the channels
    installed — without it, those `Channels.discover` finds with no plugins
    folder.
    """

    redis: object
    clock: object
    acceptor: object
    accounts: object
    messages: object
    templates: object
    index: object
    node: str = ""
    default_region: str = "RU"
    admin_token: str = ""
    providers: dict = field(default_factory=dict)
    channels: Channels | None = None
    account_ttl: float = 1.0
    #: ``failed_login_limit``, ``failed_login_account_limit``, ``failed_login_window``,
    #: ``failed_login_block`` of ``[http]`` (defaults: 20, 20, 60 s, 60 s)
    login_limits: dict = field(default_factory=dict)
    cache: AccountCache = field(init=False)
    auth: Authenticator = field(init=False)
    sender: Sender = field(init=False)
    signer: CallbackSigner = field(init=False)

    def __post_init__(self):
        self.signer = CallbackSigner(self.redis, self.clock)
        self.cache = AccountCache(self.accounts, self.clock, ttl=self.account_ttl)
        limits = {"failed_login_limit": 20, "failed_login_account_limit": 20, "failed_login_window": 60.0,
                  "failed_login_block": 60.0, **self.login_limits}
        window, block = limits["failed_login_window"], limits["failed_login_block"]
        self.auth = Authenticator(self.cache, self.clock, *(
            FailedLogins(self.clock, limits[setting], window, block, what=what,
                         shared=shared_logins(self.redis, self.clock, scope))
            for setting, scope, what in [("failed_login_limit", "login_ip", "address"),
                                         ("failed_login_account_limit", "login_name", "login")]))
        if self.channels is None:
            self.channels = Channels.discover()
        self.sender = Sender(self.acceptor, self.default_region, self.channels)


class PendingContext:
    """Stands in for the `HttpContext` until the store is connected (`resolve`).

    The site is mounted when the service tree is built, before Redis is up;
    until then every API request is answered 503 (retry later).  ``providers``
    and ``channels`` are known from the configuration, so ``/dlr/<name>``
    routes and ``/api/v1/openapi.json`` lists the channels from the start.
    """

    def __init__(self, providers: dict | None = None, channels: Channels | None = None):
        self.providers = providers if providers is not None else {}
        self.channels = channels if channels is not None else Channels.discover()
        self._context: HttpContext | None = None

    def resolve(self, context: HttpContext) -> None:
        self._context = context

    @property
    def ready(self) -> bool:
        return self._context is not None

    def __getattr__(self, name):
        context = self.__dict__.get("_context")
        if context is None:
            raise ServiceUnavailable("the gateway is starting; retry in a moment")
        return getattr(context, name)
