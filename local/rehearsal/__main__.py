"""make deploy-rehearsal: rehearse `make deploy ENV=<env>` in a throwaway moto server.

Exit 0 when every step and check passed, 1 with the findings otherwise (docs/deploy.md).
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from local.rehearsal.run import TRANSLATOR, Rehearsal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.rehearsal", description=__doc__)
    parser.add_argument("--env", default="dev", help="samconfig.toml environment and infra/ var.environment")
    parser.add_argument("--var-file", action="append", default=[], type=Path,
                        help="a .tfvars file to apply infra/ with, as your deploy does (repeatable)")
    parser.add_argument("--translator", type=Path, default=TRANSLATOR,
                        help="python of the virtualenv holding aws-sam-translator (make tools)")
    args = parser.parse_args(argv)
    say = functools.partial(print, flush=True)
    with Rehearsal(env=args.env, var_files=args.var_file, translator=args.translator, say=say) as rehearsal:
        outcome = rehearsal.run()
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    sys.exit(main())
