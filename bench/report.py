"""The one table `make bench` and `make chaos` print: a line per measure, with its target and
PASS / MISS, or why it was not measured."""

from __future__ import annotations

from dataclasses import dataclass

PASS, MISS, INFO, NOT_MEASURED = "PASS", "MISS", "", "not measured"


@dataclass(frozen=True)
class Line:
    section: str  # "1 cost", "2 sender", ...
    what: str
    value: str
    target: str = ""
    verdict: str = INFO

    @classmethod
    def check(cls, section: str, what: str, value: str, target: str, ok: bool) -> Line:
        return cls(section, what, value, target, PASS if ok else MISS)

    @classmethod
    def missing(cls, section: str, what: str, why: str, target: str = "") -> Line:
        return cls(section, what, f"not measured: {why}", target, NOT_MEASURED)


def render(lines: list[Line], title: str) -> str:
    headers = ("#", "measure", "value", "target", "result")
    rows = [(ln.section, ln.what, ln.value, ln.target, ln.verdict) for ln in lines]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    widths[2] = min(widths[2], 70)

    def fmt(row: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip()

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    body = [fmt(r) for r in rows]
    return "\n".join([title, rule, fmt(headers), rule, *body, rule])


def verdicts(lines: list[Line]) -> tuple[int, int, int]:
    """(passed, missed, not measured)."""
    return (sum(ln.verdict == PASS for ln in lines), sum(ln.verdict == MISS for ln in lines),
            sum(ln.verdict == NOT_MEASURED for ln in lines))


def money(usd: float) -> str:
    return f"${usd:,.2f}" if usd >= 0.995 or usd == 0 else f"${usd:.3f}"


def num(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"
