"""
Found by the long silent-client run: when a peer did not answer in time, the
session failed the request first and closed the connection after, so whatever
the failure triggered (the report pump refilling the window) still went out on
the connection being dropped — one PDU beyond the window the client had seen.
"""

from twisted.internet import task
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from gateway.smpp.constants import CommandId
from gateway.smpp.pdu import PDU
from gateway.smpp.session import ResponseTimeout, SessionClosed, SMPPSession


class NothingAfterAResponseTimeout(SynchronousTestCase):
    def test_a_request_made_when_the_timeout_fires_is_not_sent(self):
        clock, transport = task.Clock(), StringTransport()
        session = SMPPSession(clock, response_timeout=5.0, window=1)
        session.makeConnection(transport)
        first = session.sendRequest(PDU(CommandId.deliver_sm))
        follow_up = []
        first.addErrback(lambda f: (f.trap(ResponseTimeout), follow_up.append(session.sendRequest(
            PDU(CommandId.deliver_sm)))))
        transport.clear()
        clock.advance(5.0)
        self.assertEqual(transport.value(), b"")
        self.assertTrue(transport.disconnecting)
        self.failureResultOf(follow_up[0], SessionClosed)
