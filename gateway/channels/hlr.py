"""
How the result of an ``__HLR__`` request reaches the client: as the
message's delivery receipt, whose text is in the HLR result format of
DESIGN "Channels" instead of the usual DLR text::

    id:<id> stat:<stat> err:<err> imsi:<> msc:<> mcc:<> mnc:<> cn:<> net:<> rcn:<> rnet:<>

with every value URL-encoded.  The HLR provider reports the fields with the
receipt (``IReportSink.report(…, extra=…)``); they arrive here as the
outbox report's ``extra``.
"""

from __future__ import annotations

from gateway.model import State
from gateway.smpp.receipt import HlrResult

__all__ = ["is_hlr", "hlr_text", "HLR_CHANNEL"]

HLR_CHANNEL = "hlr"
_FIELDS = ("imsi", "msc", "mcc", "mnc", "cn", "net", "rcn", "rnet")


def is_hlr(report) -> bool:
    """True for the DLR of an HLR request (an `gateway.store.outbox.Report`)."""
    return report.kind == "dlr" and report.message.channel == HLR_CHANNEL


def hlr_text(report, message_id: str | None = None) -> str:
    """The HLR result text of a DLR report (``message_id``: the id the client knows, default ours)."""
    extra = getattr(report, "extra", None) or {}
    result = HlrResult(id=message_id or report.message_id, stat=State(report.state).stat,
                       err=f"{min(int(report.error or 0), 999):03d}",
                       **{name: str(extra.get(name, "")) for name in _FIELDS})
    return result.format()
