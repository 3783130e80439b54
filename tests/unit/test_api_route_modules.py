"""The api function imports a route's module on the route's first request (handler.ROUTE_MODULES):
for every declared operation, a request to its path loads the module that declares it, and
every other module with a route matching that path, so routing (including a 405's Allow list)
answers as it would with every module loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = r"""
import json, re, sys
sys.path[:0] = ["functions", "layers/shared"]
from api import handler
from api.router import OPERATIONS
handler.load_all_routes()
misses = []
for op in OPERATIONS:
    sample = re.sub(r"{\w+}", "x1", op.path)
    loaded = handler.modules_for(sample)
    for other in OPERATIONS:
        if other.match(sample) is not None and other.func.__module__ not in loaded:
            misses.append([op.method, op.path, other.method, other.path, other.func.__module__])
print(json.dumps({"operations": len(OPERATIONS), "misses": misses}))
"""

FRESH = r"""
import json, sys
sys.path[:0] = ["functions", "layers/shared"]
before = set(sys.modules)
from api import handler
handler.load_routes("/v1/messages")
print(json.dumps(sorted(m for m in set(sys.modules) - before if m.startswith("api."))))
"""


def _run(code: str) -> object:
    answer = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "eu-west-1", "TABLE_NAME": "t"})
    assert answer.returncode == 0, answer.stderr
    return json.loads(answer.stdout.strip().splitlines()[-1])


def test_given_any_route_when_its_path_is_requested_then_every_module_with_a_matching_route_is_loaded():
    result = _run(CHECK)
    assert result["operations"] >= 24
    assert result["misses"] == []


def test_given_a_cold_start_when_a_send_arrives_then_only_the_messages_routes_are_imported():
    loaded = _run(FRESH)
    assert "api.messages" in loaded
    assert not {"api.batches", "api.webhook_endpoints", "api.opt_outs", "api.inbound", "api.otp"} & set(loaded)
