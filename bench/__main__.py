"""`python -m bench` (make bench): speed and cost, one table. `python -m bench chaos` (make
chaos): faults survived, one table, exit status 1 unless every invariant held.

Each scenario runs in a fresh process (`python -m bench scenario <name> <result.json>`): its own
local stack, environment and caches, its functions' output in .bench/logs/<name>.log.
"""

from __future__ import annotations

import argparse
import sys

from bench.runner import BENCH_SCENARIOS, main_bench, main_chaos, run_scenario


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    bench = sub.add_parser("bench", help="speed and cost (the default)")
    bench.add_argument("--only", action="append", choices=list(BENCH_SCENARIOS),
                       help="run only this scenario (repeatable)")
    sub.add_parser("chaos", help="faults survived")
    scenario = sub.add_parser("scenario", help="(internal) run one scenario in this process")
    scenario.add_argument("name")
    scenario.add_argument("result")
    args = parser.parse_args(argv)
    if args.command == "scenario":
        return run_scenario(args.name, args.result)
    if args.command == "chaos":
        return main_chaos()
    return main_bench(getattr(args, "only", None))


if __name__ == "__main__":
    sys.exit(main())
