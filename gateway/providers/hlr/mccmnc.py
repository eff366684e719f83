"""
ITU-T E.212 mobile country and network codes, for the offline HLR lookup:
MCC by ISO region code, and MNC by region and the carrier name the
``phonenumbers`` carrier data gives.  Data, not code: extend the tables.
A number whose carrier is unknown (or was ported) gets no MNC.
"""

from __future__ import annotations

__all__ = ["MCC", "MNC", "mcc_for", "mnc_for"]

MCC = {
    "RU": "250", "UA": "255", "BY": "257", "KZ": "401", "UZ": "434", "KG": "437", "TJ": "436", "TM": "438",
    "AM": "283", "AZ": "400", "GE": "282", "MD": "259", "EE": "248", "LV": "247", "LT": "246", "FI": "244",
    "PL": "260", "DE": "262", "GB": "234", "GG": "234", "JE": "234", "IM": "234", "FR": "208", "IT": "222",
    "ES": "214", "PT": "268", "NL": "204", "BE": "206", "CH": "228", "AT": "232", "CZ": "230", "SK": "231",
    "HU": "216", "RO": "226", "BG": "284", "RS": "220", "GR": "202", "TR": "286", "IL": "425", "AE": "424",
    "SA": "420", "EG": "602", "IN": "404", "CN": "460", "JP": "440", "KR": "450", "TH": "520", "VN": "452",
    "ID": "510", "US": "310", "CA": "302", "MX": "334", "BR": "724", "AR": "722", "AU": "505", "NO": "242",
    "SE": "240", "DK": "238", "IE": "272", "MN": "428",
}

MNC = {
    "RU": {"MTS": "01", "MegaFon": "02", "T2": "20", "Tele2": "20", "Beeline": "99", "Yota": "11", "Motiv": "35"},
    "UA": {"Vodafone": "01", "Kyivstar": "03", "lifecell": "06", "Lifecell": "06"},
    "BY": {"Velcom": "01", "A1": "01", "MTS": "02", "life:)": "04", "Life": "04"},
    "KZ": {"Beeline": "01", "Kcell/Activ": "02", "Tele2": "77", "Altel": "07"},
    "DE": {"T-Mobile": "01", "Vodafone": "02", "O2": "03"},
    "GB": {"O2": "10", "Vodafone": "15", "EE": "30", "Three": "20"},
}


def mcc_for(region: str) -> str:
    return MCC.get(region, "")


def mnc_for(region: str, carrier: str) -> str:
    return MNC.get(region, {}).get(carrier, "")
