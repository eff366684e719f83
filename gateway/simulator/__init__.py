"""
The bundled SMSC simulator: an SMPP 3.4 server that accepts submits, answers
with message ids and sends delivery receipts and MO messages the way real
SMSCs do (configurable outcomes per destination, receipt delay, throttling,
window, random disconnects), with counters for tests and benchmarks.

- `gateway.simulator.config`: the ``[simulator]`` keys.
- `gateway.simulator.smsc`: `SMSC`, the shared state and behaviour.
- `gateway.simulator.session`: `SMSCSession`, one ESME connection.
- `gateway.simulator.web`: POST /mo, GET /stats.
- `gateway.simulator.service`: `SimulatorService` (in the gateway or alone).
- `gateway.simulator.tap`: ``twistd -n smsc-sim``; `gateway.simulator.mo`: inject an MO from a shell.
"""

__all__ = ["config", "smsc", "session", "web", "service", "tap", "mo"]
