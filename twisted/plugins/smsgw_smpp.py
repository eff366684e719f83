from gateway.plugins import ProviderPlugin

smpp = ProviderPlugin("smpp", "SMPP client connector to an SMSC (TLS, window, throughput, receipts, MO)", "gateway.providers.smpp:SMPPProvider")
