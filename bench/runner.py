"""Runs the scenarios, each in a fresh process, and prints the one table."""

from __future__ import annotations

import importlib
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.report import Line, render, verdicts

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / ".bench"
LOG_DIR = OUT_DIR / "logs"


@dataclass(frozen=True)
class Scenario:
    module: str  # "bench.<module>", or "bench.<module>:<function>" for another entry than run()
    section: str
    what: str
    timeout: float  # seconds before the scenario is stopped and its lines reported as not measured


# The cost scenario's time grows with its sizes (see bench.cost): about 0.1 s a message here.
_COST_TIMEOUT = (
    600 + 0.15 * int(os.environ.get("BENCH_SINGLES", "1000")) + 0.12 * int(os.environ.get("BENCH_BULK", "10000"))
)
BENCH_SCENARIOS: dict[str, Scenario] = {
    "coldstart": Scenario("bench.coldstart", "4 cold", "cold start of every handler", 600),
    "cost": Scenario("bench.cost", "1 cost", "AWS requests and cost per message", _COST_TIMEOUT),
    "acceptance": Scenario("bench.acceptance", "3 accept", "bulk acceptance", 300),
    "otp": Scenario("bench.otp_load", "5 otp", "OTP under a bulk", 300),
    "otp_paced": Scenario("bench.otp_load:run_paced", "5 otp", "OTP under a bulk paced at 50/s", 600),
    "pacing": Scenario("bench.pacing_rate", "6 pacing", "provider pacing", 300),
    "lists": Scenario("bench.lists", "7 lists", "provider requests per bulk message", 600),
}
CHAOS = Scenario("bench.chaos", "chaos", "chaos run", 900)


def _scenario(name: str) -> Scenario:
    return CHAOS if name == "chaos" else BENCH_SCENARIOS[name]


def run_scenario(name: str, result_path: str) -> int:
    """In the child: run one scenario, write its lines as JSON."""
    from bench.awscalls import CallCounter

    spec = _scenario(name)
    counter = CallCounter().install()
    started = time.monotonic()
    status = 0
    try:
        module, _, function = spec.module.partition(":")  # "package.module[:function]", run() by default
        lines = getattr(importlib.import_module(module), function or "run")(counter)
    except Exception as exc:  # noqa: BLE001 - reported as a line, with the traceback in the log
        traceback.print_exc()
        lines = [Line.missing(spec.section, spec.what, f"{type(exc).__name__}: {exc}"[:200])]
        status = 1
    finally:
        counter.uninstall()
    payload = {"lines": [asdict(ln) for ln in lines], "seconds": time.monotonic() - started}
    Path(result_path).write_text(json.dumps(payload, indent=1))
    sys.stdout.flush()
    return status


def _spawn(name: str) -> tuple[list[Line], float]:
    spec = _scenario(name)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log, result = LOG_DIR / f"{name}.log", OUT_DIR / f"{name}.json"
    result.unlink(missing_ok=True)
    started = time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        try:
            subprocess.run([sys.executable, "-m", "bench", "scenario", name, str(result)], stdout=out,
                           stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env, timeout=spec.timeout, check=False)
        except subprocess.TimeoutExpired:
            return [
                Line.missing(spec.section, spec.what, f"not finished within {spec.timeout:.0f} s; see {log}")
            ], spec.timeout
    elapsed = time.monotonic() - started
    if not result.exists():
        return [
            Line.missing(spec.section, spec.what, f"the scenario crashed; see {log.relative_to(REPO_ROOT)}")
        ], elapsed
    return [Line(**ln) for ln in json.loads(result.read_text())["lines"]], elapsed


def machine() -> str:
    memory = "?"
    try:
        for row in Path("/proc/meminfo").read_text().splitlines():
            if row.startswith("MemTotal:"):
                memory = f"{int(row.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores (nproc), {memory}, "
            f"Python {platform.python_version()} on {platform.machine()} {platform.system()}; load avg {load}")


def _run(names: list[str], title: str, short: str) -> list[Line]:
    lines: list[Line] = []
    header = machine()
    print(f"[bench] {header}", file=sys.stderr, flush=True)
    for name in names:
        print(f"[bench] {name}: running (output in .bench/logs/{name}.log)", file=sys.stderr, flush=True)
        got, seconds = _spawn(name)
        lines += got
        print(f"[bench] {name}: {seconds:.0f} s", file=sys.stderr, flush=True)
    lines.sort(key=lambda ln: ln.section.split()[0])
    table = render(lines, f"{title}  ({header})")
    print(table, flush=True)
    (OUT_DIR / f"last-{short}.txt").write_text(table + "\n")
    return lines


def main_bench(only: list[str] | None = None) -> int:
    names = [n for n in BENCH_SCENARIOS if not only or n in only]
    _run(names, "tamtam bench: speed and cost", "bench")
    return 0


def main_chaos() -> int:
    lines = _run(["chaos"], "tamtam chaos: faults survived", "chaos")
    _, missed, not_measured = verdicts(lines)
    return 1 if missed or not_measured else 0
