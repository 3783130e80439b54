"""Run the provider sandbox on its own: `python -m local.sandbox [--port N] [--providers a,b]`.

Prints the base URL (one line, so scripts can read it) and serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from local.sandbox.server import SIMULATORS, start_sandbox


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.sandbox", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("TAMTAM_SANDBOX_PORT", "0")),
        help="port on 127.0.0.1 (default: $TAMTAM_SANDBOX_PORT, else any free port)",
    )
    parser.add_argument(
        "--providers",
        default=",".join(SIMULATORS),
        help=f"comma-separated simulators to run (default: {','.join(SIMULATORS)})",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s")
    providers = [name.strip() for name in args.providers.split(",") if name.strip()]
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    with start_sandbox(port=args.port, providers=providers) as server:
        print(server.url, flush=True)
        print(f"providers: {', '.join(server.sandbox.sims)}; control API: {server.url}/_sandbox", file=sys.stderr)
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
