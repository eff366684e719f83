"""SMPP 3.4 / 5.0: PDU tables and codec, text encodings, server and client sessions."""
