"""SMPP 3.4 / 5.0: PDU tables and codec, text encodings, server and client sessions.

Where to find what (import from the submodule; this package imports nothing itself):

``constants``
    ``CommandId`` (``CommandId.submit_sm``...), ``CommandStatus`` (``ESME_*`` of 3.4 and
    5.0, plus ``VENDOR_*`` 0x0400-0x045A), ``MessageState`` (with ``.stat`` receipt names),
    ``DataCoding``, ``EsmClass``, ``RegisteredDelivery``, ``Ton``, ``Npi``.
``tables``
    The PDU layouts as data: ``MANDATORY`` parameters per command, ``TLVS``, ``Tag``.
``pdu``
    ``PDU(command_id, sequence_number, command_status, params, tlvs)``, ``pdu.resp()``,
    ``make_resp()``, ``PDUError`` (``.status``, ``.intact``, ``.response()``), and the
    submit_multi types ``DestAddress``, ``DistributionList``, ``UnsuccessSme``.
``codec``
    ``encode(pdu) -> bytes``, ``decode(data) -> PDU``.
``framing``
    ``Framer(max_length).feed(chunk) -> [PDU]`` for a TCP stream.
``text``
    GSM 03.38 (unpacked and packed), IA5, Latin-1, UCS2: ``encode_text``,
    ``decode_text``, ``TextError`` (status 0x0400).
``split``
    ``split_message`` (UDH 8/16-bit, SAR, message_payload), ``choose_data_coding``,
    ``parse_udh``, ``message_part`` for incoming parts, ``is_too_long`` (0x0401).
``reassembly``
    ``Reassembler`` for incoming concatenated messages.
``receipt``
    DLR text ``format_receipt`` / ``parse_receipt``, ``receipt_deliver_sm``, HLR results.
"""

__all__ = [
    "constants", "tables", "pdu", "codec", "framing", "text", "split", "reassembly",
    "receipt",
]
