from twisted.application.service import ServiceMaker

smsc_sim = ServiceMaker("smsc-sim", "gateway.simulator.tap", "SMPP 3.4 SMSC simulator: receipts, MO, throttling, failures", "smsc-sim")
