"""What a rehearsal step found wrong, named by the resource it is about."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One problem a real deployment would hit (or that breaks the design): `resource` names
    what it is about (a Terraform address, a template logical id, a queue), `message` says what."""

    resource: str
    message: str

    def __str__(self) -> str:
        return f"{self.resource}: {self.message}"


class StepFailed(Exception):
    """A step could not go on (terraform apply failed, the stack was refused...): its findings
    say why; the steps after it are not run."""

    def __init__(self, step: str, findings: list[Finding]) -> None:
        super().__init__(f"{step}: " + "; ".join(str(f) for f in findings))
        self.step = step
        self.findings = findings
