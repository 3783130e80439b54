"""The contract fuzz run: schemathesis, in a process of its own, against a local stack with the
OpenAPI document that stack serves (GET /openapi.json), authenticated with a tenant's key.

`make fuzz` runs it big (`python -m tests.contract.fuzzing`, FUZZ_CASES, default 2,000) and
tests/contract/test_fuzz.py runs it small. Both print schemathesis's own report, each failing
case with the curl line that reproduces it, then `FuzzResult.summary()`: cases generated,
failures per check, server errors and warnings. What is checked, which warnings fail a run, and which
phases run, is in schemathesis.toml beside this file.

Sizing: `--max-examples` is per operation and phase. A run of N cases asks the fuzzing phase
for ceil(N / operations) of each operation; the examples and coverage phases add their own
fixed sets and the stateful phase its scenarios, so a run generates more than N (2,000 asked:
2,211 generated on 13 operations in 82 s on 2 cores). The total is in the summary.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tests.contract.harness import REPO_ROOT, ContractStack, contract_stack

CONFIG = Path(__file__).with_name("schemathesis.toml")
DEFAULT_CASES = 2_000
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# The checks of schemathesis.toml, and the failure codes each one reports.
CHECK_CODES = {
    "not_a_server_error": ("ST101", "ST102"),
    "status_code_conformance": ("ST103",),
    "content_type_conformance": ("ST104", "ST105", "ST106"),
    "response_headers_conformance": ("ST107",),
    "response_schema_conformance": ("ST108", "ST109", "ST110", "ST111"),
}
SERVER_ERROR_CODES = CHECK_CODES["not_a_server_error"]


def operation_count(document: dict[str, Any]) -> int:
    return sum(1 for item in (document.get("paths") or {}).values() if isinstance(item, dict)
               for method in item if method in HTTP_METHODS)


@dataclass(frozen=True)
class FuzzResult:
    exit_code: int  # schemathesis's: 0 only when no check failed and no fail-on warning was raised
    output: str  # its terminal report
    report: dict[str, Any]  # its JSON report (--report json); {} when it wrote none
    seconds: float
    seed: int
    operations: int
    max_examples: int

    @property
    def cases(self) -> int:
        return int((self.report.get("test_cases") or {}).get("generated") or 0)

    def _failures(self, codes: Iterable[str]) -> list[dict[str, Any]]:
        return [f for f in self.report.get("failures") or [] if f.get("code") in set(codes)]

    def failures_per_check(self) -> dict[str, int]:
        """Unique failures of each check (schemathesis deduplicates them by operation and cause)."""
        return {check: sum(int(f["count"]) for f in self._failures(codes)) for check, codes in CHECK_CODES.items()}

    def server_errors(self) -> list[dict[str, Any]]:
        return self._failures(SERVER_ERROR_CODES)

    def warnings(self) -> dict[str, list[str]]:
        """Schemathesis's warnings: operations it could not test well (which fail a run:
        schemathesis.toml's `fail-on`)."""
        return {name: list(ops) for name, ops in (self.report.get("warnings") or {}).items()
                if ops and isinstance(ops, list)}

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and bool(self.report.get("complete"))

    def failures_section(self) -> str:
        """The report's FAILURES part (each failing case and its curl line), else all of it."""
        start = self.output.find(" FAILURES ")
        start = self.output.rfind("\n", 0, start) + 1 if start >= 0 else 0
        return self.output[start:]

    def summary(self) -> str:
        per_check = self.failures_per_check()
        lines = [
            f"contract fuzz: {self.cases:,} cases over {self.operations} operations "
            f"(--max-examples {self.max_examples}), seed {self.seed}, {self.seconds:.1f} s",
            f"  cases with a failure: {int((self.report.get('test_cases') or {}).get('with_failures') or 0):,}",
            "  unique failures per check:",
            *(f"    {check:<30} {count}" for check, count in per_check.items()),
        ]
        server = self.server_errors()
        lines.append(f"  server errors (5xx): {sum(int(f['count']) for f in server)} unique")
        lines += [f"    {f['code']} {f['title']}: {', '.join(f.get('operations') or [])}" for f in server]
        for name, operations in self.warnings().items():
            lines.append(f"  warning {name}: {', '.join(map(str, operations))}")
        for error in self.report.get("errors") or []:
            lines.append(f"  error: {error.get('title')} x{error.get('count')}")
        if not self.report:
            lines.append("  schemathesis wrote no report: its output above says why")
        lines.append(f"  result: {'passed' if self.ok else 'FAILED'} (schemathesis exit code {self.exit_code})")
        return "\n".join(lines)


def fuzz(target: ContractStack, cases: int, *, workdir: Path, seed: int | None = None,
         echo: TextIO | None = None, timeout: float = 3600.0) -> FuzzResult:
    """One schemathesis run of about `cases` generated cases against `target`. Its working
    files (JSON report, replay store) go to `workdir`; `echo` gets its output as it comes."""
    seed = secrets.randbelow(2**31) if seed is None else seed
    operations = operation_count(target.served_document())
    if operations == 0:
        raise AssertionError(f"{target.document_url} documents no operation")
    max_examples = max(1, math.ceil(cases / operations))
    workdir.mkdir(parents=True, exist_ok=True)
    report_path = workdir / "report.json"
    report_path.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run", target.document_url,
        "--url", target.api_url, "--header", f"Authorization: Bearer {target.key}",
        "--max-examples", str(max_examples), "--seed", str(seed), "--no-color",
        "--report", "json", "--report-json-path", str(report_path),
    ]
    started = time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          encoding="utf-8", errors="replace", env={**os.environ, "NO_COLOR": "1"}) as process:
        assert process.stdout is not None
        deadline = started + timeout
        for line in process.stdout:
            lines.append(line)
            if echo is not None:
                echo.write(line)
                echo.flush()
            if time.monotonic() > deadline:
                process.kill()
                lines.append(f"\n(stopped after {timeout:.0f} s)\n")
                break
        exit_code = process.wait()
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else {}
    return FuzzResult(exit_code=exit_code, output="".join(lines), report=report, seconds=time.monotonic() - started,
                      seed=seed, operations=operations, max_examples=max_examples)


def main(argv: list[str] | None = None) -> int:
    """`make fuzz`: a stack, one run of about --cases generated cases (FUZZ_CASES, default
    2,000), the totals; exit 1 on any failure. The stack's own output (the functions' logs) goes
    to .local-stack/fuzz/stack.log, schemathesis's working files beside it."""
    parser = argparse.ArgumentParser(prog="make fuzz", description=main.__doc__)
    parser.add_argument("--cases", type=int, default=int(os.environ.get("FUZZ_CASES") or DEFAULT_CASES))
    seed = os.environ.get("FUZZ_SEED")
    parser.add_argument("--seed", type=int, default=int(seed) if seed else None)
    args = parser.parse_args(argv)
    workdir = REPO_ROOT / ".local-stack" / "fuzz"
    workdir.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    saved = {fd: os.dup(fd) for fd in (sys.stdout.fileno(), sys.stderr.fileno())}
    started = time.monotonic()
    try:
        with open(workdir / "stack.log", "w", encoding="utf-8") as stack_log:
            for fd in saved:  # the functions log to stdout, the stack and its warnings to stderr
                os.dup2(stack_log.fileno(), fd)
            print(f"make fuzz: starting the local stack (its log: {workdir / 'stack.log'})", file=out)
            with contract_stack("fuzz") as target:
                print(f"make fuzz: about {args.cases:,} cases against {target.api_url}", file=out)
                result = fuzz(target, args.cases, workdir=workdir, seed=args.seed, echo=out)
            sys.stdout.flush()
            sys.stderr.flush()
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
    print("\n" + result.summary(), file=out)
    print(f"make fuzz: {time.monotonic() - started:.0f} s in all (stack start and stop included); "
          f"schemathesis report: {workdir / 'report.json'}", file=out)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
