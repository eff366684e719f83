"""
HLR lookups (channel ``hlr``, ``__HLR__``), ``[provider:NAME] type = hlr``.

The provider (`gateway.providers.hlr.provider`) asks an `IHlrLookup` —
``lookup = numbering`` (offline, from the ``phonenumbers`` numbering data:
`gateway.providers.hlr.numbering`) or ``lookup = http`` (an HLR vendor's
web API: `gateway.providers.hlr.web`) — and reports the answer as the
message's receipt, its fields carried to the client in the HLR result format
(``id:… stat:… err:… imsi:… msc:… mcc:… mnc:… cn:… net:… rcn:… rnet:…``).
"""

from gateway.providers.hlr.answer import HLR_FIELDS, HlrAnswer, LookupFailed

__all__ = ["HlrAnswer", "LookupFailed", "HLR_FIELDS"]
