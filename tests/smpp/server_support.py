"""
In-memory stand-ins for the store behind the SMPP server, for the state
machine tests (StringTransport + task.Clock, bytes in, bytes out).  The real
store is exercised by the socket tests over a real Redis.
"""

from __future__ import annotations

from twisted.internet import defer, task
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from gateway.model import Account, IdGenerator, Message, State
from gateway.smpp.auth import make_portal
from gateway.smpp.binds import BindRegistry
from gateway.smpp.codec import encode
from gateway.smpp.constants import CommandId
from gateway.smpp.framing import Framer
from gateway.smpp.pdu import PDU
from gateway.smpp.server import SMPPServerFactory
from gateway.store.control import Cancelled, ControlError
from gateway.store.passwords import hash_password

T0 = 1_750_000_000.0


class Accounts:
    """An `IAccountStore` over a dict."""

    def __init__(self, *accounts: Account):
        self.accounts = {a.name: a for a in accounts}

    def get(self, name):
        return defer.succeed(self.accounts.get(name))


def account(name="acme", password="secret", **fields) -> Account:
    # a cheap scrypt so that tests stay fast; the format is the production one
    return Account(name=name, password=hash_password(password, n=16), dedup_window=0, throughput=0, **fields)


class Acceptor:
    """Accepts everything (or what ``answer`` says), recording the submits."""

    redis = None

    def __init__(self, clock):
        self.clock = clock
        self.ids = IdGenerator(1)
        self.accepted: list = []
        self.hold = False
        self.held: list[defer.Deferred] = []
        self.error = None

    def accept(self, account, submit, msg_id=None):
        message = Message(id=msg_id or self.ids.next(int(self.clock.seconds() * 1000)), account=account.name,
                          destination=submit.destination, text=submit.text, source=submit.source,
                          parts=submit.parts, registered_delivery=submit.registered_delivery,
                          priority=submit.priority, schedule=submit.schedule, validity=submit.validity,
                          extra=submit.extra)
        self.accepted.append((account, submit, message))
        if self.error is not None:
            return defer.fail(self.error)
        if self.hold:
            d = defer.Deferred()
            self.held.append(d)
            return d.addCallback(lambda _: message)
        return defer.succeed(message)


class Assembler:
    """Parts of a message get the id of the first part of the same reference."""

    def __init__(self, acceptor):
        self.acceptor = acceptor
        self.parts: list = []
        self._ids: dict = {}

    def accept_part(self, account, submit, reference, total, number):
        self.parts.append((submit.text, reference, total, number))
        key = (submit.source, submit.destination, reference)
        msg_id = self._ids.setdefault(key, f"mp{len(self._ids) + 1}")
        return defer.succeed(Message(id=msg_id, account=account.name, destination=submit.destination))


class Messages:
    def __init__(self):
        self.messages: dict[str, Message] = {}

    def get(self, msg_id):
        return defer.succeed(self.messages.get(msg_id))


class Control:
    def __init__(self):
        self.cancelled: list = []
        self.matching: list = []
        #: what cancel_matching answers: messages cancelled
        self.matched = 0

    def cancel(self, account, msg_id, source=None, destination=""):
        if msg_id == "sent":
            return defer.fail(ControlError(0x11, msg_id))
        self.cancelled.append((account, msg_id, source, destination))
        return defer.succeed(None)

    def cancel_matching(self, account, source, destination, service_type=""):
        self.matching.append((account, source, destination, service_type))
        return defer.succeed(Cancelled(self.matched, self.matched, True))

    def replace(self, message, **changes):
        return defer.succeed(None)


class Outbox:
    """Reports handed out once each, acks and releases recorded."""

    def __init__(self):
        self.ready: list = []
        self.acked: list = []
        self.released: list = []

    def take(self, account, n):
        taken, self.ready = self.ready[:n], self.ready[n:]
        return defer.succeed(taken)

    def ack(self, account, ids):
        self.acked.extend(ids)
        return defer.succeed(len(ids))

    def release(self, account, ids):
        self.released.extend(ids)
        return defer.succeed(len(ids))

    @staticmethod
    def wake_channel(account):
        return f"wake:{account}"


class Server:
    """A factory over the fakes, and helpers to connect sessions to it."""

    def __init__(self, *accounts, **settings):
        self.clock = task.Clock()
        self.clock.advance(T0)
        self.accounts = Accounts(*(accounts or (account(),)))
        self.acceptor = Acceptor(self.clock)
        self.assembler = Assembler(self.acceptor)
        self.messages = Messages()
        self.control = Control()
        self.outbox = Outbox()
        verify = _sync_verify
        self.factory = SMPPServerFactory(
            acceptor=self.acceptor, assembler=self.assembler, messages=self.messages, outbox=self.outbox,
            portal=make_portal(self.accounts, verify), clock=self.clock, settings=settings, node="test",
            control=self.control, registry=BindRegistry(None, self.clock, "test"))

    def connect(self, host="127.0.0.1"):
        session = self.factory.buildProtocol(IPv4Address("TCP", host, 5000))
        transport = StringTransport(peerAddress=IPv4Address("TCP", host, 40000))
        session.makeConnection(transport)
        return Client(session, transport, self.clock)


def _sync_verify(password, stored):
    from gateway.store.passwords import verify_password
    return defer.succeed(verify_password(password, stored))


class Client:
    """One connected session seen from the client side."""

    def __init__(self, session, transport, clock):
        self.session = session
        self.transport = transport
        self.clock = clock
        self.seq = 0
        self.framer = Framer()
        self._buffer: list[PDU] = []

    def send(self, command, params=None, tlvs=None, seq=None):
        if seq is None:
            self.seq += 1
            seq = self.seq
        self.session.dataReceived(encode(PDU(command, seq, 0, params or {}, tlvs or {})))
        self.clock.advance(0)
        return seq

    def raw(self, data: bytes):
        self.session.dataReceived(data)

    def received(self) -> list[PDU]:
        """PDUs the server sent since the last look."""
        data = self.transport.value()
        self.transport.clear()
        pdus, self._buffer = self._buffer + self.framer.feed(data), []
        return pdus

    def one(self) -> PDU:
        pdus = self.received()
        assert len(pdus) == 1, pdus
        return pdus[0]

    def bind(self, command=CommandId.bind_transceiver, system_id="acme", password="secret", **params):
        params = {"system_id": system_id, "password": password, "interface_version": 0x34, **params}
        self.send(command, params)
        resp, *self._buffer = self.received()  # reports may follow the bind_resp at once
        return resp

    def submit(self, text=b"hello", **params):
        params = {"source_addr": "Shop", "destination_addr": "79001234567", "short_message": text, **params}
        tlvs = params.pop("tlvs", None)
        self.send(CommandId.submit_sm, params, tlvs)

    @property
    def closed(self) -> bool:
        return self.transport.disconnecting

    def lose(self):
        self.session.connectionLost(None)


def dlr_report(rid="r1", message_id="m1", state=State.DELIVERED, **fields):
    """An outbox report of a DLR."""
    from gateway.store.outbox import Report

    message = Message(id=message_id, account="acme", destination="79001234567", source="Shop",
                      text="hello there", created=int(T0 * 1000), registered_delivery=1, **fields)
    return Report("dlr", rid, message_id, state, 0, int(T0 * 1000) + 5000, message)
