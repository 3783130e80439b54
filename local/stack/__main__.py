"""`make run`: the whole gateway on 127.0.0.1 (moto, provider sandbox, API on :3000), a demo
tenant, and example calls. Ctrl-C or SIGTERM stops everything."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from local.stack.stack import REPO_ROOT, LocalStack

STATE_FILE = REPO_ROOT / ".local-stack" / "state.json"
DEMO_KEY = "tt_local_demo_key_do_not_use_in_production"


def _ensure_layer_importable() -> None:
    layer = str(REPO_ROOT / "layers" / "shared")
    if layer not in sys.path:
        sys.path.append(layer)


def write_state(stack: LocalStack, path: Path = STATE_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "moto_url": stack.moto_url,
        "api_url": stack.api_url,
        "sandbox_url": stack.sandbox_url,
        "region": stack.region,
        "table_name": stack.provisioned.table_name,
        "usage_plan_id": stack.usage_plan_id,
    }
    path.write_text(json.dumps(state, indent=2) + "\n")


def create_demo_tenant(usage_plan_id: str | None) -> Any:
    _ensure_layer_importable()
    from tamtam.tenants import create_tenant

    return create_tenant(name="demo", api_key=DEMO_KEY, usage_plan_id=usage_plan_id)


def banner(stack: LocalStack, tenant: Any) -> str:
    url, key = stack.api_url, tenant.api_key
    return f"""
tamtam is running locally (no AWS account, providers simulated).

  API         {url}
  Swagger UI  {url}/docs
  Outbox      {stack.sandbox_url}/_sandbox/outbox   (what the simulated providers were asked to send)
  Demo tenant {tenant.tenant_id}
  API key     {key}

Try it:
  URL={url}
  KEY={key}
  ID=$(curl -s -X POST $URL/v1/messages -H "Authorization: Bearer $KEY" \\
        -H 'Content-Type: application/json' -d '{{"to":"+224622000001","text":"Hello from tamtam"}}' \\
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  curl -s $URL/v1/messages/$ID -H "Authorization: Bearer $KEY"

More tenants: make tenant NAME=acme. Stop with Ctrl-C.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack", description=__doc__)
    parser.add_argument("--port", type=int, default=3000, help="API Gateway port (default 3000)")
    parser.add_argument("--sandbox-port", type=int, default=3001, help="provider sandbox port (default 3001)")
    parser.add_argument("--moto-port", type=int, default=0, help="moto server port (default: any free port)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")

    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    stack = LocalStack(port=args.port, sandbox_port=args.sandbox_port, moto_port=args.moto_port)
    try:
        stack.start()
        tenant = create_demo_tenant(stack.usage_plan_id)
        write_state(stack)
        print(banner(stack, tenant), flush=True)
        while not stopping.wait(0.5):
            pass
        print("stopping...", flush=True)
    finally:
        STATE_FILE.unlink(missing_ok=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
