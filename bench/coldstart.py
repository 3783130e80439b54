"""Line 4 of `make bench`: cold start of every handler of the byte-compiled build.

Each measure is a fresh interpreter (`-I -S`: no site-packages, no PYTHON* variables) whose
`sys.path` is what Lambda gives a function: its code directory (functions/, every function a
package), then the layer's `python/`. It times `import <function>.handler` (the function's init,
plus what its first request imports on top: FIRST_REQUEST, the api's route module for a send)
and, as the baseline, `import boto3;
boto3.client("sqs")` from the same layer, interleaved, 7 times each; the line is the ratio of
the medians. The environment is the function's (template Globals) with tracing left unset,
and the probe also reports whether `aws_xray_sdk` was imported.

The build: `make build`'s .aws-sam/build when it imports on this machine and is byte-compiled
(it is built for arm64: on an x86_64 machine its compiled dependencies do not load). Otherwise
an equivalent is built into .bench/build: functions/, layers/shared/tamtam and a
`pip install --target` of layers/shared/requirements.txt for this machine, byte-compiled like
`make build` does (`compileall --invalidation-mode unchecked-hash`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.rates import median
from bench.report import Line

SECTION = "4 cold"
REPO_ROOT = Path(__file__).resolve().parents[1]
SAM_BUILD = REPO_ROOT / ".aws-sam" / "build"
OWN_BUILD = REPO_ROOT / ".bench" / "build"
RUNS = 7
TARGET_RATIO = 1.5
# What a function's first request imports beyond its handler module, counted in its cold start:
# the api loads a route's module on first use (handler.load_routes), measured here for a send.
FIRST_REQUEST = {"api": ["handler.load_routes('/v1/messages')"]}  # `handler`: the function's handler module

PROBE = r"""
import json, sys, time
args = json.loads(sys.argv[1])
sys.path[:0] = args["path"]
started = time.perf_counter()
if args["kind"] == "baseline":
    import boto3
    boto3.client("sqs")
else:
    import importlib
    handler = importlib.import_module(args["module"])  # the function's init: <function>.handler
    for statement in args.get("then", ()):
        exec(statement)  # what the first request of the measured kind loads on top of the init
elapsed = time.perf_counter() - started
print(json.dumps({"ms": elapsed * 1000, "xray": "aws_xray_sdk" in sys.modules}))
"""

LAMBDA_ENV = {
    "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing", "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "TABLE_NAME": "tamtam-bench", "QUEUE_URLS": "{}", "PROVIDER_SECRETS": "{}", "EVENT_BUS_NAME": "tamtam-bench",
    "POWERTOOLS_SERVICE_NAME": "tamtam", "POWERTOOLS_METRICS_NAMESPACE": "tamtam", "POWERTOOLS_LOG_LEVEL": "INFO",
    "LANG": "C.UTF-8",
}


@dataclass(frozen=True)
class Build:
    layer: Path  # the directory that holds the layer's packages (Lambda's /opt/python)
    code: Path  # the built code directory (Lambda's /var/task): functions/, every function a package
    functions: list[str]  # the functions' packages (functions/<name>)
    description: str


def _function_names() -> list[str]:
    return sorted(d.name for d in (REPO_ROOT / "functions").iterdir() if (d / "handler.py").is_file())


def _probe(build: Build, kind: str, function: str | None = None, then: list[str] | None = None) -> dict[str, object]:
    path = ([str(build.code)] if function else []) + [str(build.layer)]
    args = {"kind": kind, "path": path, "module": f"{function}.handler", "then": then or []}
    answer = subprocess.run([sys.executable, "-I", "-S", "-c", PROBE, json.dumps(args)],
                            capture_output=True, text=True, env=LAMBDA_ENV, cwd=build.code if function else build.layer,
                            timeout=120)
    if answer.returncode != 0:
        raise RuntimeError(answer.stderr.strip().splitlines()[-1] if answer.stderr.strip() else "probe failed")
    return json.loads(answer.stdout.strip().splitlines()[-1])


def _sam_build() -> Build | None:
    """.aws-sam/build if it imports here and is byte-compiled. Every function's CodeUri is
    functions/, so any built function directory holds every function's package: the first one
    whose api/handler.py is today's is the code directory."""
    layer = SAM_BUILD / "SharedLayer" / "python"
    if not layer.is_dir() or not any(layer.glob("tamtam/__pycache__/*.pyc")):
        return None
    source = (REPO_ROOT / "functions" / "api" / "handler.py").read_bytes()
    code = next(
        (
            built
            for built in sorted(SAM_BUILD.iterdir())
            if (built / "api" / "handler.py").is_file() and (built / "api" / "handler.py").read_bytes() == source
        ),
        None,
    )
    if code is None or not all((code / name / "handler.py").is_file() for name in _function_names()):
        return None
    build = Build(layer, code, _function_names(), "make build (.aws-sam/build)")
    try:
        _probe(build, "baseline")
        subprocess.run(
            [sys.executable, "-I", "-S", "-c", f"import sys; sys.path[:0]=[{str(layer)!r}]; import pydantic_core"],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (RuntimeError, subprocess.SubprocessError):
        return None  # built for another architecture (arm64) than this machine's
    return build


def _own_build() -> Build:
    requirements = REPO_ROOT / "layers" / "shared" / "requirements.txt"
    layer = OWN_BUILD / "layer" / "python"
    stamp = OWN_BUILD / "layer" / ".requirements.sha256"
    digest = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()
    if not stamp.is_file() or stamp.read_text() != digest:
        shutil.rmtree(OWN_BUILD / "layer", ignore_errors=True)
        layer.mkdir(parents=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-compile", "--target", str(layer), "-r", str(requirements)], check=True)
        stamp.write_text(digest)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.rmtree(layer / "tamtam", ignore_errors=True)
    shutil.copytree(REPO_ROOT / "layers" / "shared" / "tamtam", layer / "tamtam", ignore=ignore)
    code = OWN_BUILD / "functions"
    shutil.rmtree(code, ignore_errors=True)
    shutil.copytree(REPO_ROOT / "functions", code, ignore=ignore)
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
                    str(OWN_BUILD)], check=True)
    return Build(layer, code, _function_names(),
                 "own build in .bench/build (.aws-sam/build absent, not compiled, or not for this machine)")


def run(counter: object = None) -> list[Line]:
    build = _sam_build() or _own_build()
    baseline: list[float] = []
    times: dict[str, list[float]] = {name: [] for name in build.functions}
    errors: dict[str, str] = {}
    xray: set[str] = set()
    for _ in range(RUNS):
        baseline.append(float(_probe(build, "baseline")["ms"]))
        for name in build.functions:
            if name in errors:
                continue
            try:
                result = _probe(build, "handler", name, FIRST_REQUEST.get(name))
            except RuntimeError as exc:
                errors[name] = str(exc)[:120]
                continue
            times[name].append(float(result["ms"]))
            if result["xray"]:
                xray.add(name)
    base = median(baseline)
    lines = [Line(SECTION, "build measured", build.description),
             Line(SECTION, "baseline: import boto3; boto3.client('sqs')", f"{base:.0f} ms (median of {RUNS})")]
    for name in sorted(build.functions, key=lambda n: -median(times[n]) if times[n] else 0):
        what = f"{name}: import handler / baseline"
        if name in errors:
            lines.append(Line.missing(SECTION, what, f"import failed: {errors[name]}", f"<= {TARGET_RATIO}x"))
            continue
        ms = median(times[name])
        lines.append(
            Line.check(
                SECTION, what, f"{ms / base:.2f}x ({ms:.0f} ms)", f"<= {TARGET_RATIO}x", ms / base <= TARGET_RATIO
            )
        )
    measured = [n for n in build.functions if n not in errors]
    lines.append(Line.check(SECTION, "tracing off: aws_xray_sdk imported by a handler",
                            ", ".join(sorted(xray)) if xray else f"none of {len(measured)}", "none", not xray))
    return lines
