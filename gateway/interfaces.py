"""
Every zope.interface smsgw defines, in one place.

Providers (how a message leaves the gateway and how its receipts come back)
and the store (how messages are accepted, how reports reach clients, how
accounts are looked up).  Channel and plugin interfaces are added here too.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from zope.interface import Attribute, Interface

__all__ = ["IProvider", "IReportSink", "IAcceptor", "IAccountStore", "IOutbox", "ISMPPAccount"]


class IProvider(Interface):
    """An upstream route out of the gateway: an SMSC connection, an HTTP aggregator, …

    The dispatcher asks `capacity` how many messages the provider can take
    right now (its free window, throughput budget and readiness) and calls
    `send` at most that many times.  It asks again after every completed send
    and on a short poll, so a provider need not notify anyone when it frees up.

    Receipts and incoming messages come back through the `IReportSink` the
    provider was created with: ``sink.report(self.name, upstream_id, state,
    error_code, at)`` and ``sink.deliver_mo(self.name, …)``.
    """

    name = Attribute("The provider's name (``[provider:NAME]``), as used in routes.")

    def capacity() -> int:
        """How many more messages `send` may be given now; 0 when not ready (e.g. not bound)."""

    def send(message) -> Deferred:
        """Send one `gateway.model.Message`.

        Fires with a `gateway.model.SendResult`: ``SendResult.sent(*upstream_ids)``
        (one id per part the upstream acknowledged), ``SendResult.temporary(code)``
        (retried later on this provider, with backoff) or
        ``SendResult.permanent(code)`` (failed over to the next provider of the
        message's route; UNDELIVERABLE with ``code`` when none is left).  An
        errback is treated as a temporary error.
        """


class IReportSink(Interface):
    """Where providers hand receipts and incoming messages (`gateway.store.tracker.Tracker`)."""

    def report(provider, upstream_id, state, error_code=0, at=None, extra=None) -> Deferred:
        """A receipt: ``state`` (`gateway.model.State`) for ``upstream_id`` at ``at`` (epoch ms).

        Maps the upstream id to our message id, records the state in its
        history and, if the client asked (registered_delivery), queues a DLR
        in the account's outbox.  Fires with our id, or None when unknown.
        ``extra``: receipt fields beyond the state (msgpack-able dict; the HLR
        result of an ``hlr`` message), kept with the message and carried by
        its DLR as `gateway.store.outbox.Report.extra`.
        """

    def deliver_mo(provider, source, destination, text="", raw=None, data_coding=0,
                   account=None, at=None, extra=None) -> Deferred:
        """An incoming message: stored and queued in the owning account's outbox.

        Fires with the stored `gateway.model.Message`.
        """


class IAcceptor(Interface):
    """The accept path (`gateway.store.accept.Acceptor`)."""

    def accept(account, submit) -> Deferred:
        """Validate a `gateway.model.Submit` against the account's rules, store and queue it.

        Fires with the `gateway.model.Message` only after Redis acknowledged the
        write; fails with `AcceptError` (``.status`` = SMPP command_status) for a
        refusal, `StoreUnavailable` when Redis is unreachable.
        """

    def accept_many(account, submits) -> Deferred:
        """`accept` for each submit of a batch, in one Deferred for them all.

        Fires with one result per submit, in order: the `gateway.model.Message`, or
        the exception refusing it (`AcceptError`, `StoreUnavailable`).
        """

    def accept_part(account, submit, reference, total, number) -> Deferred:
        """One part (``number`` of ``total``) of a long message sent as separate submits.

        Every part is stored before it is acknowledged and gets the same message
        id; the message is queued once all parts are in.
        """


class IAccountStore(Interface):
    """Accounts shared by every node (`gateway.store.accounts.AccountStore`)."""

    def get(name) -> Deferred:
        """The `gateway.model.Account`, or None."""

    def check_password(name, password) -> Deferred:
        """The `Account` if ``password`` is right and the account enabled, else None."""

    def by_api_key(key) -> Deferred:
        """The enabled `Account` owning the API key ``key``, or None."""


class IOutbox(Interface):
    """Reports (DLR, MO) waiting for an account's client (`gateway.store.outbox.Outbox`)."""

    def take(account, n=100) -> Deferred:
        """Up to ``n`` `Report`s, leased: they return unless acknowledged in time."""

    def ack(account, report_ids) -> Deferred:
        """The client has these reports."""

    def release(account, report_ids) -> Deferred:
        """These reports could not be handed over; offer them again."""


class ISMPPAccount(Interface):
    """What an SMPP bind logs in to through twisted.cred: the client's `gateway.model.Account`.

    `gateway.smpp.auth` provides the checker (system_id + password) and the
    realm (enabled account, IP allowlist) that return it.
    """


class IAccountAvatar(Interface):
    """What `twisted.cred` hands the HTTP APIs after a login: the `gateway.model.Account`.

    The realm (`gateway.http.auth.AccountRealm`) returns the account itself as
    the avatar, so the resources never see a password or an API key.
    """


__all__ += ["IAccountAvatar"]


class IProviderPlugin(Interface):
    """A kind of upstream provider, declared in a plugin file.

    Declared like ``@provider(IPlugin, IProviderPlugin)`` on a module-level object in
    ``twisted/plugins/smsgw_*.py`` (built-ins) or in the admin's plugins folder.
    ``[provider:NAME] type = <type>`` selects it.
    """

    type = Attribute("The value of ``type =`` in ``[provider:NAME]`` that selects this plugin.")
    description = Attribute("One line for operators, shown in logs.")

    def provider(name, options, sink, reactor):
        """Build the `IProvider` for section ``[provider:name]``.

        ``options`` are the section's keys as strings (``type`` included);
        ``sink`` is the `IReportSink` for receipts and MO.  Raise `ValueError`
        naming the key and what is allowed for a bad option.  The provider may
        also be a `twisted.application.service.IService`; it is then started and
        stopped with the gateway.
        """


class IChannel(Interface):
    """How a message for one channel (SMS, e-mail, Telegram, …) is recognised and checked.

    Over SMPP a channel is chosen by a text prefix (``__MAIL__: …``); over HTTP by
    a parameter.  `parse` turns the client's text into the text to deliver plus
    channel parameters, or refuses it at accept time.
    """

    name = Attribute("The channel name used in routes and messages: sms, mail, tgm, …")
    prefix = Attribute("The SMPP text prefix that selects it (``__MAIL__``), or None for none.")

    def parse(text, destination):
        """``(text, params)`` to deliver; raise `gateway.channels.ChannelError` to refuse.

        ``text`` is what follows the prefix and its ``: `` (over HTTP: the
        message text as given), ``\n~~~\n`` comment included: return it
        intact at the end of the text, the store splits it off.  ``params``
        (a msgpack-able dict) are merged into ``Message.extra`` for providers.
        """


class IChannelPlugin(Interface):
    """A channel, declared in a plugin file like `IProviderPlugin`."""

    name = Attribute("The channel name.")

    def channel():
        """The `IChannel`."""


__all__ += ["IProviderPlugin", "IChannel", "IChannelPlugin"]


class IStoreAccess(Interface):
    """The store, for providers that keep state of their own in Redis (the Telegram bot's phone links).

    The engine provides it next to `IReportSink`, so such a provider reaches
    it through the sink it was built with: ``IStoreAccess(sink).whenReady()``.
    """

    def whenReady() -> Deferred:
        """Fires, once Redis is connected, with an object whose ``redis`` is the txredisapi client."""


class IHlrLookup(Interface):
    """Where an HLR lookup (channel ``hlr``) gets its answer: an HLR vendor, numbering data, …

    Used by the ``hlr`` provider (`gateway.providers.hlr`), one implementation
    per ``lookup =`` choice.
    """

    def lookup(msisdn) -> Deferred:
        """Fires with a `gateway.providers.hlr.HlrAnswer` for ``msisdn`` (E.164 digits, no ``+``).

        Fails with `gateway.providers.hlr.LookupFailed` when no answer can be
        had now (the lookup is retried later).
        """


__all__ += ["IStoreAccess", "IHlrLookup"]
