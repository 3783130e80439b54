"""SMS segment count: GSM 03.38 (7-bit, with the extension table costing two septets) when
every character fits, otherwise UCS-2 (UTF-16 code units, so an emoji costs two)."""

from __future__ import annotations

from dataclasses import dataclass

_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def _count(units: int, single: int, multi: int) -> int:
    if units == 0:
        return 0
    return 1 if units <= single else -(-units // multi)


def analyse(text: str) -> SegmentInfo:
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in text):
        septets = sum(2 if ch in _GSM_EXTENDED else 1 for ch in text)
        return SegmentInfo("GSM-7", septets, _count(septets, 160, 153))
    units = len(text.encode("utf-16-le")) // 2
    return SegmentInfo("UCS-2", units, _count(units, 70, 67))
