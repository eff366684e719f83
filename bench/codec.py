"""SMPP codec benchmark: decode+encode per second, ours against smpp.pdu3 (Jasmin's codec).

Both codecs get the same wire bytes for four typical PDUs: a submit_sm (empty
service_type, registered_delivery=1, 50-character text), a deliver_sm delivery receipt
with receipted_message_id / message_state / network_error_code TLVs, a submit_sm_resp
and an enquire_link. Each measurement is repeated a few times, interleaved, and the best
round is kept (the machine is shared; the best round is the least disturbed one).

Run from the repository root: ``python bench/codec.py``. The last line is JSON.
"""

import io
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gateway.smpp.codec import decode, encode  # noqa: E402
from gateway.smpp.constants import CommandId, EsmClass, MessageState  # noqa: E402
from gateway.smpp.pdu import PDU  # noqa: E402

ROUNDS = 4
ROUND_SECONDS = 0.06
TARGET_SUBMIT_SM_RATE = 50_000
TARGET_RATIO = 10.0


def samples():
    """The four benchmark PDUs as wire bytes."""
    text = b"Your code is 4711. Do not share it with anyone!!!!"
    assert len(text) == 50
    receipt = (b"id:0f1e2d3c4b5a6978 sub:001 dlvrd:001 submit date:2401151230 "
               b"done date:2401151231 stat:DELIVRD err:000 text:Your code is 4711. D")
    pdus = {
        "submit_sm": PDU(CommandId.submit_sm, 1001, params={
            "service_type": "", "source_addr_ton": 5, "source_addr_npi": 0,
            "source_addr": "MyShop", "dest_addr_ton": 1, "dest_addr_npi": 1,
            "destination_addr": "79161234567", "registered_delivery": 1,
            "short_message": text}),
        "deliver_sm_receipt": PDU(CommandId.deliver_sm, 2002, params={
            "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": "79161234567",
            "dest_addr_ton": 5, "dest_addr_npi": 0, "destination_addr": "MyShop",
            "esm_class": EsmClass.TYPE_DELIVERY_RECEIPT, "short_message": receipt},
            tlvs={"receipted_message_id": "0f1e2d3c4b5a6978",
                  "message_state": MessageState.DELIVERED,
                  "network_error_code": b"\x03\x00\x00"}),
        "submit_sm_resp": PDU(CommandId.submit_sm_resp, 1001,
                              params={"message_id": "0f1e2d3c4b5a6978"}),
        "enquire_link": PDU(CommandId.enquire_link, 3003),
    }
    return {name: encode(pdu) for name, pdu in pdus.items()}


def rate(run, data):
    """Best decode+encode rate per second of ``run(data, n)`` over the rounds."""
    n = 64
    while True:  # calibrate a batch to roughly a tenth of a round
        start = time.perf_counter()
        run(data, n)
        if time.perf_counter() - start > ROUND_SECONDS / 10:
            break
        n *= 2
    best = 0.0
    for _ in range(ROUNDS):
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < ROUND_SECONDS:
            run(data, n)
            done += n
        best = max(best, done / (time.perf_counter() - start))
    return best


def run_ours(data, n):
    for _ in range(n):
        encode(decode(data))


def make_run_theirs():
    from smpp.pdu.pdu_encoding import PDUEncoder

    encoder = PDUEncoder()

    def run_theirs(data, n):
        for _ in range(n):
            encoder.encode(encoder.decode(io.BytesIO(data)))

    return run_theirs


def main():
    run_theirs = make_run_theirs()
    results = {}
    for name, data in samples().items():
        assert encode(decode(data)) == data
        run_theirs(data, 1)  # smpp.pdu3 must accept the same bytes
        ours = theirs = 0.0
        for _ in range(2):  # interleave so both see the same machine conditions
            ours = max(ours, rate(run_ours, data))
            theirs = max(theirs, rate(run_theirs, data))
        results[name] = {"octets": len(data), "ours_per_s": round(ours),
                         "smpp_pdu3_per_s": round(theirs), "ratio": round(ours / theirs, 1)}

    print(f"SMPP codec decode+encode per second (Python {platform.python_version()})")
    print(f"{'PDU':<20}{'octets':>7}{'ours/s':>12}{'smpp.pdu3/s':>14}{'ratio':>8}")
    for name, row in results.items():
        print(f"{name:<20}{row['octets']:>7}{row['ours_per_s']:>12,}"
              f"{row['smpp_pdu3_per_s']:>14,}{row['ratio']:>7.1f}x")
    submit = results["submit_sm"]
    summary = {
        "benchmark": "smpp_codec",
        "unit": "decode+encode per second",
        "results": results,
        "targets": {
            "submit_sm_per_s": TARGET_SUBMIT_SM_RATE,
            "ratio": TARGET_RATIO,
            "submit_sm_rate_met": submit["ours_per_s"] >= TARGET_SUBMIT_SM_RATE,
            "ratio_met_for_all": all(r["ratio"] >= TARGET_RATIO for r in results.values()),
        },
    }
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
