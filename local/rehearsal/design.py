"""What reads what, as the design says it (../shared/design.md, docs/architecture.md), derived
from the providers (tamtam.providers.registry), infra/'s queues and template.yaml's function
directories rather than listed a second time:

- `<provider>-tx` and `<provider>-bulk` are read by that provider's sender, `<Provider>SenderFunction`
  (functions/sender), and by nothing else: one sender per provider, bulk apart from transactional.
- their DLQs `<provider>-<kind>-dlq` are read by the finalizer (functions/finalizer): "exhausted
  ones ... end in the DLQ, where they are finalised as failed".
- any other queue `<key>` (fanout, ingest...) is read by the one function of functions/<key>;
  its DLQ by functions/<key>_dlq when there is one (fanout_dlq), else by nothing (an alarm
  watches it).
- the table's stream is read by the lifecycle function (functions/lifecycle).
Functions not named above read no queue and no stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from local.rehearsal.findings import Finding

STREAM = "table stream"
PROVIDER_QUEUE_KINDS = ("tx", "bulk")


def sender_of(provider: str) -> str:
    return f"{provider.capitalize()}SenderFunction"


def expected_sources(providers: Iterable[str], queue_keys: Iterable[str],
                     code_dirs: Mapping[str, str]) -> tuple[dict[str, set[str]], list[Finding]]:
    """Function logical id -> the event sources (queue keys, STREAM) the design gives it, and
    findings for what the design needs but the template lacks.

    `queue_keys`: infra/'s main queues (each has `<key>-dlq`); `code_dirs`: function logical id
    -> the name of its directory under functions/."""
    expected: dict[str, set[str]] = {logical_id: set() for logical_id in code_dirs}
    findings: list[Finding] = []

    def only(directory: str, why: str) -> str | None:
        owners = sorted(lid for lid, d in code_dirs.items() if d == directory)
        if len(owners) != 1:
            findings.append(Finding(f"functions/{directory}", f"{why}: expected one function of it in "
                                    f"template.yaml, found {owners or 'none'}"))
            return None
        return owners[0]

    keys = set(queue_keys)
    provider_queues = {f"{p}-{kind}" for p in providers for kind in PROVIDER_QUEUE_KINDS}
    finalizer = only("finalizer", "the provider DLQs are finalised by it")
    for provider in providers:
        sender = sender_of(provider)
        if code_dirs.get(sender) != "sender":
            findings.append(Finding(sender, f"the design has one sender per provider; template.yaml has no "
                                    f"{sender} of functions/sender for {provider}"))
        for kind in PROVIDER_QUEUE_KINDS:
            key = f"{provider}-{kind}"
            if key not in keys:
                findings.append(Finding(f"queue {key}", f"infra/ has no {kind} queue for {provider}"))
                continue
            if sender in expected:
                expected[sender].add(key)
            if finalizer:
                expected[finalizer].add(f"{key}-dlq")
    for key in sorted(keys - provider_queues):
        consumer = only(key.replace("-", "_"), f"queue {key} is read by the function named for it")
        if consumer:
            expected[consumer].add(key)
        dlq_directory = f"{key.replace('-', '_')}_dlq"
        if dlq_directory in code_dirs.values():
            dlq_consumer = only(dlq_directory, f"queue {key}-dlq is read by the function named for it")
            if dlq_consumer:
                expected[dlq_consumer].add(f"{key}-dlq")
    lifecycle = only("lifecycle", "the table's stream is read by it")
    if lifecycle:
        expected[lifecycle].add(STREAM)
    return expected, findings
