"""Venue identifiers: Databento publisher ids -> venue MIC -> the numeric exchange ids the API serves.

The API speaks Polygon/Massive exchange ids (``/v3/reference/exchanges``): 300-series ids for the
OPRA participants, 1-21 for U.S. equity venues (4 = FINRA trade reporting facilities). Databento
names the venue of each record with a ``publisher_id`` (``databento/dbn`` ``publishers.rs``); a
publisher maps to its venue's MIC, and the MIC to the exchange id below. Venues without a known id
(MEMX Options, MIAX Sapphire, consolidated feeds) map to null rather than to a guess.
"""

from __future__ import annotations

import numpy as np

# Databento publisher id -> venue MIC (OPRA.PILLAR participants and U.S. equity feeds).
PUBLISHER_VENUE: dict[int, str] = {
    2: "XNAS",
    3: "XBOS",
    4: "XPSX",
    5: "BATS",
    6: "BATY",
    7: "EDGA",
    8: "EDGX",
    9: "XNYS",
    10: "XCIS",
    11: "XASE",
    12: "XCHI",
    13: "XCIS",
    14: "XCIS",
    15: "MEMX",
    16: "EPRL",
    17: "FINN",
    18: "FINC",
    19: "FINY",
    20: "AMXO",
    21: "XBOX",
    22: "XCBO",
    23: "EMLD",
    24: "EDGO",
    25: "GMNI",
    26: "XISX",
    27: "MCRY",
    28: "XMIO",
    29: "ARCO",
    30: "OPRA",
    31: "MPRL",
    32: "XNDQ",
    33: "XBXO",
    34: "C2OX",
    35: "XPHL",
    36: "BATO",
    37: "MXOP",
    38: "IEXG",
    39: "XCHI",
    40: "XCIS",
    41: "IEXG",
    42: "EPRL",
    43: "ARCX",
    44: "XNYS",
    45: "XNYS",
    46: "XNAS",
    47: "XNAS",
    48: "XCHI",
    49: "XCIS",
    50: "IEXG",
    51: "EPRL",
    52: "XNAS",
    53: "XNYS",
    54: "FINN",
    55: "FINY",
    56: "FINC",
    61: "SPHR",
    62: "XCHI",
    63: "XCIS",
    64: "IEXG",
    65: "EPRL",
    66: "XNAS",
    67: "XNYS",
    68: "FINN",
    69: "FINY",
    70: "FINC",
    71: "BATS",
    72: "BATY",
    73: "EDGA",
    74: "EDGX",
    75: "XBOS",
    76: "XPSX",
    77: "MEMX",
    78: "XASE",
    79: "ARCX",
    80: "LTSE",
    81: "XNAS",
    82: "FINN",
    83: "FINC",
    86: "XBOS",
    87: "XPSX",
    88: "XBOS",
    89: "XPSX",
}

# OPRA participant MIC -> exchange id served for options.
OPTION_EXCHANGE_IDS: dict[str, int] = {
    "AMXO": 300,
    "XBOX": 301,
    "XCBO": 302,
    "EMLD": 303,
    "EDGO": 304,
    "GMNI": 307,
    "XISX": 308,
    "MCRY": 309,
    "XMIO": 312,
    "ARCO": 313,
    "OPRA": 314,
    "MPRL": 315,
    "XNDQ": 316,
    "XBXO": 319,
    "C2OX": 322,
    "XPHL": 323,
    "BATO": 325,
}

# U.S. equity venue MIC -> exchange id served for stocks.
STOCK_EXCHANGE_IDS: dict[str, int] = {
    "XASE": 1,
    "XBOS": 2,
    "XCIS": 3,
    "FINN": 4,
    "FINC": 4,
    "FINY": 4,
    "EDGA": 7,
    "EDGX": 8,
    "XCHI": 9,
    "XNYS": 10,
    "ARCX": 11,
    "XNAS": 12,
    "LTSE": 14,
    "IEXG": 15,
    "XPSX": 17,
    "BATY": 18,
    "BATS": 19,
    "EPRL": 20,
    "MEMX": 21,
}

# FINRA trade reporting facility ids (``trf_id``) by venue.
TRF_IDS: dict[str, int] = {"FINN": 201, "FINC": 202, "FINY": 203}


def _table(ids: dict[str, int]) -> np.ndarray:
    out = np.full(max(PUBLISHER_VENUE) + 1, -1, dtype=np.int32)
    for pub, mic in PUBLISHER_VENUE.items():
        if mic in ids:
            out[pub] = ids[mic]
    return out


_OPTION_BY_PUBLISHER = _table(OPTION_EXCHANGE_IDS)
_STOCK_BY_PUBLISHER = _table(STOCK_EXCHANGE_IDS)


def exchange_ids(publishers: np.ndarray, asset: str) -> np.ndarray:
    """Exchange id per publisher id (-1 where unknown), vectorised."""
    table = _OPTION_BY_PUBLISHER if asset == "options" else _STOCK_BY_PUBLISHER
    pubs = np.asarray(publishers, dtype=np.int64)
    known = (pubs >= 0) & (pubs < len(table))
    out = np.full(len(pubs), -1, dtype=np.int32)
    out[known] = table[pubs[known]]
    return out


def publisher_for(exchange: int | None, asset: str, dataset: str) -> int:
    """A publisher id for a served exchange id (the inverse mapping, used when writing DBN files)."""
    ids = OPTION_EXCHANGE_IDS if asset == "options" else STOCK_EXCHANGE_IDS
    mic = next((m for m, i in ids.items() if i == exchange), None)
    family = {"OPRA.PILLAR": range(20, 38)}.get(dataset, range(62, 81) if dataset == "EQUS.ALL" else range(1, 20))
    for pub in family:
        if PUBLISHER_VENUE.get(pub) == mic:
            return pub
    return family[0]
