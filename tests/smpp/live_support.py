"""
The SMPP server over real loopback sockets and a real Redis: the whole path
accept → queue → dispatcher → null provider (DELIVERED) → tracker → outbox →
deliver_sm, in this process on the real reactor.  `Esme` drives the
independent, synchronous ``smpplib`` client in a thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp
from twisted.internet import defer, reactor, task, threads

from gateway.dispatch import Dispatcher
from gateway.model import Account
from gateway.providers.null import NullProvider
from gateway.routing import Route, Router
from gateway.smpp.auth import make_portal
from gateway.smpp.server import SMPPServer, SMPPServerFactory
from gateway.store.accept import Acceptor
from gateway.store.accounts import AccountStore
from gateway.store.messages import MessageStore, new_id_generator
from gateway.store.notify import Notifier
from gateway.store.outbox import Outbox
from gateway.store.passwords import hash_password
from gateway.store.queues import Queues
from gateway.store.tracker import Tracker

PASSWORD = "secret"


def live_account(name="acme", **fields) -> Account:
    fields.setdefault("dedup_window", 0)
    fields.setdefault("throughput", 0)
    return Account(name=name, password=hash_password(PASSWORD, n=16), **fields)


@dataclass
class Live:
    """A running server with its store; ``port`` is where it listens."""

    redis: object
    server: SMPPServer
    factory: SMPPServerFactory
    accounts: AccountStore
    messages: MessageStore
    outbox: Outbox
    dispatcher: Dispatcher
    notifier: Notifier
    provider: NullProvider
    tracker: Tracker
    services: list = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.ports[0].getHost().port

    def tls_port(self) -> int:
        return self.server.ports[1].getHost().port

    async def stop(self):
        for service in reversed(self.services):
            await defer.maybeDeferred(service.stopService)


async def start_live(redis, redis_url, listen=("tcp:0:interface=127.0.0.1",), settings=None,
                     accounts=(), routes=None) -> Live:
    ids = await new_id_generator(redis, reactor)
    router = Router(routes or [Route("all", providers=("null",))])
    acceptor = Acceptor(redis, router, ids, reactor, node="live")
    tracker = Tracker(redis, ids, reactor, node="live")
    outbox = Outbox(redis, reactor, lease=30)
    store = AccountStore(redis, reactor)
    for account in accounts or (live_account(),):
        await store.put(account)
    notifier = Notifier(redis_url, reactor)
    notifier.startService()
    provider = NullProvider("null", sink=tracker, clock=reactor)
    dispatcher = Dispatcher(Queues(redis, reactor), [provider], f"live#{ids.node_number}", reactor,
                            notifier=notifier, outbox=outbox, assembler=acceptor.parts, poll_interval=0.5)
    acceptor.add_listener(dispatcher.wake)
    dispatcher.startService()
    messages = MessageStore(redis, reactor)
    factory = SMPPServerFactory(acceptor=acceptor, messages=messages, outbox=outbox,
                                portal=make_portal(store), clock=reactor, settings=settings or {},
                                node="live", notifier=notifier)
    server = SMPPServer(factory, list(listen), reactor, stop_on_failure=False)
    server.startService()
    await server.ready
    await notifier.whenSubscribed()
    return Live(redis, server, factory, store, messages, outbox, dispatcher, notifier, provider, tracker,
                [notifier, dispatcher, server])


class Esme:
    """An smpplib client; every method blocks, so call them through `run`."""

    def __init__(self, port, ssl_context=None):
        self.client = smpplib.client.Client("127.0.0.1", port, timeout=10, ssl_context=ssl_context,
                                            allow_unknown_opt_params=True)
        self.delivered: list = []
        self.lock = threading.Lock()

    def run(self, method, *args, **kwargs) -> defer.Deferred:
        return threads.deferToThread(getattr(self, method), *args, **kwargs)

    def bind(self, mode="transceiver", system_id="acme", password=PASSWORD, **params):
        self.client.connect()
        return getattr(self.client, f"bind_{mode}")(system_id=system_id, password=password, **params)

    def request(self, command, **params):
        """Send a request, answer deliver_sm meanwhile, return its response PDU (error or not)."""
        pdu = smpplib.smpp.make_pdu(command, client=self.client, **params)
        self.client.send_pdu(pdu)
        while True:
            resp = self.client.read_pdu()
            if resp.command == "deliver_sm":
                self._deliver(resp)
            elif resp.sequence == pdu.sequence:
                return resp

    def raw_request(self, pdu):
        """A request smpplib does not know (cancel_sm, replace_sm), encoded with our codec."""
        from gateway.smpp.codec import decode, encode

        pdu.sequence_number = self.client.next_sequence()
        self.client._socket.sendall(encode(pdu))
        while True:
            length = int.from_bytes(self.client._recv_exact(4), "big")
            resp = decode(length.to_bytes(4, "big") + self.client._recv_exact(length - 4))
            if resp.sequence_number == pdu.sequence_number:
                return resp

    def submit(self, text=b"hello", destination="79001234567", **params):
        params.setdefault("source_addr", "Shop")
        params.setdefault("registered_delivery", 0)
        return self.request("submit_sm", destination_addr=destination, short_message=text, **params)

    def wait_deliver(self, n=1):
        """Read until ``n`` deliver_sm arrived (answered 0); returns them."""
        while len(self.delivered) < n:
            pdu = self.client.read_pdu()
            if pdu.command == "deliver_sm":
                self._deliver(pdu)
            elif pdu.command == "unbind":
                raise smpplib.exceptions.ConnectionError("unbound by the server")
        return list(self.delivered)

    def wait_unbind(self):
        """Read until the server's unbind; answer it; returns True."""
        while True:
            pdu = self.client.read_pdu()
            if pdu.command == "unbind":
                resp = smpplib.smpp.make_pdu("unbind_resp", client=self.client)
                resp.sequence = pdu.sequence
                self.client.send_pdu(resp)
                return True

    def _deliver(self, pdu):
        self.delivered.append(pdu)
        resp = smpplib.smpp.make_pdu("deliver_sm_resp", client=self.client)
        resp.sequence = pdu.sequence
        self.client.send_pdu(resp)

    def close(self):
        if self.client._socket is not None:
            try:
                self.client.unbind()
            except (smpplib.exceptions.PDUError, smpplib.exceptions.ConnectionError, OSError):
                pass
            self.client.disconnect()


async def eventually(check, bound: float = 10.0, step: float = 0.02):
    """Await ``check()`` (returning a bool or a Deferred of one) until true; fail after ``bound`` s."""
    waited = 0.0
    while not await defer.maybeDeferred(check):
        assert waited < bound, "condition not reached in time"
        await task.deferLater(reactor, step, lambda: None)
        waited += step


def money(value: str) -> Decimal:
    return Decimal(value)
