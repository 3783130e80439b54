"""The short chaos run (bench.chaos `SHORT`: a few hundred messages under every fault kind of
`make chaos`, each applied a few times) inside `make test`: it fails when an invariant breaks.

It starts a local stack of its own (the chaos settings: short windows, faults installed in this
process) and stops it, undoing every hook, before the next test: it must not run while another
local stack is up in this process. The e2e package's shared `stack` fixture starts with the first
test that asks for it, and this module sorts before those."""

from __future__ import annotations

import pytest

from bench.report import render

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(290)]


def test_given_every_fault_kind_at_once_then_every_chaos_invariant_holds():
    from bench.awscalls import CallCounter
    from bench.chaos import SHORT, chaos

    counter = CallCounter().install()
    try:
        result = chaos(counter, SHORT)
    finally:
        counter.uninstall()
    table = render(result.lines, "chaos (short)")
    print(table)
    assert not result.failed, "invariants broken or faults not applied:\n" + "\n".join(
        f"{ln.what}: {ln.value}" for ln in result.failed) + "\n\n" + table
