"""
Found by the SIGKILL cycles: after a restart, a connector bound its SMSC —
which at once delivered the receipts it had held — before the engine had
connected to Redis (the stale embedded redis-server was still being stopped),
and every receipt ended in an AttributeError traceback.  Until the engine is
ready, receipts and MO are refused as a temporary failure: the connector
answers ESME_RX_T_APPN and the SMSC sends them again.
"""

from twisted.trial.unittest import SynchronousTestCase

from gateway.config import load
from gateway.engine import Engine
from gateway.model import State
from gateway.store.scripting import StoreUnavailable


class ReportsBeforeTheStoreIsUp(SynchronousTestCase):
    def setUp(self):
        self.engine = Engine(load(None, {"gateway": {"datadir": self.mktemp()}}), redis_service=None)

    def test_a_receipt_is_a_temporary_failure(self):
        failure = self.failureResultOf(self.engine.report("simulator", "5f3a", State.DELIVERED))
        failure.trap(StoreUnavailable)

    def test_an_mo_is_a_temporary_failure(self):
        failure = self.failureResultOf(self.engine.deliver_mo("simulator", "79001234567", "7000", "hi"))
        failure.trap(StoreUnavailable)
