"""Shared by the channel tests: a real SMTP relay (aiosmtpd) that keeps what it receives."""

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port


class Relay:
    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope)
        return "250 queued"


@pytest.fixture(scope="module")
def relay():
    handler = Relay()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()
