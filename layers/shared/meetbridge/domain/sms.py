"""How many SMS segments a text costs: what the tenant's segment limit counts (3GPP TS 23.038 / 23.040)."""

import math
from dataclasses import dataclass
from typing import Literal

# The GSM 03.38 default alphabet (its escape, 0x1B, is not a character of a text) and its extension table,
# whose characters take an escape septet and their own.
GSM7_BASIC = frozenset(
    '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?'
    '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà'
)
GSM7_EXTENSION = frozenset('\f^{}\\[~]|€')
# A single message, and each part of a concatenated one (its header takes the rest), in the encoding's units.
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SegmentCount:
    encoding: Literal['GSM-7', 'UCS-2']
    units: int  # septets in GSM-7, UTF-16 code units in UCS-2
    segments: int


def segments(text: str) -> SegmentCount:
    """GSM-7 when every character is in it, else UCS-2. A part never splits an escaped character or a
    surrogate pair (an emoji): what does not fit whole in a part's remaining room starts the next part."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        encoding, single, part = 'GSM-7', GSM7_SINGLE, GSM7_PART
        sizes = [2 if char in GSM7_EXTENSION else 1 for char in text]
    else:
        encoding, single, part = 'UCS-2', UCS2_SINGLE, UCS2_PART
        sizes = [2 if ord(char) > 0xFFFF else 1 for char in text]
    units = sum(sizes)
    if units <= single:
        return SegmentCount(encoding, units, math.ceil(units / single))  # 0 for an empty text
    count, room = 1, part
    for size in sizes:
        if size > room:
            count, room = count + 1, part
        room -= size
    return SegmentCount(encoding, units, count)
