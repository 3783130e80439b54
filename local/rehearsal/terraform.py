"""The real `terraform` on a copy of infra/, against the rehearsal's moto server.

Only the environment points the AWS provider at the server (AWS_ENDPOINT_URL, dummy keys, a
region): infra/ is applied as it is. Two variables are set the way a throwaway environment sets
them (the table may be deleted, secrets are deleted at once). The copy, its .terraform/ and its
state live in the rehearsal's temporary directory, never in the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.rehearsal.findings import Finding, StepFailed

PLUGIN_DIR = os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins")
PARALLELISM = 30  # most of an apply is the AWS provider's fixed waits, not the server's work
THROWAWAY_VARIABLES = {"table_deletion_protection": "false", "secret_recovery_window_in_days": "0"}
_NOT_COPIED = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate", "*.tfstate.*")


@dataclass
class Plan:
    """A second `terraform plan`: real changes are findings; `artefacts` are the updates whose
    only difference is the JSON formatting of a string the server returned (moto writes JSON
    with spaces, Terraform compact), listed so that they are seen, not hidden."""

    findings: list[Finding] = field(default_factory=list)
    artefacts: list[tuple[str, str]] = field(default_factory=list)  # (address, attributes)


class Terraform:
    """`terraform` in `workdir`, a copy of `infra`, with the provider pointed at `endpoint`."""

    def __init__(self, binary: str, infra: Path, workdir: Path, endpoint: str, region: str,
                 variables: Mapping[str, str], var_files: Iterable[Path] = ()) -> None:
        self.binary = binary
        self.workdir = workdir
        shutil.copytree(infra, workdir, ignore=_NOT_COPIED)
        self.arguments = [f"-var={k}={v}" for k, v in variables.items()]
        self.arguments += [f"-var-file={Path(f).resolve()}" for f in var_files]
        self.env = {
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
            "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_INPUT": "0",
            **{f"TF_VAR_{k}": v for k, v in THROWAWAY_VARIABLES.items()},
        }
        for name in (
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_CONFIG_FILE",
            "TF_WORKSPACE",
        ):
            self.env.pop(name, None)
        self.resources_created = 0

    def _run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.binary, *args], check=False, cwd=self.workdir, env=self.env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def init(self) -> None:
        done = self._run("init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={PLUGIN_DIR}")
        if done.returncode != 0:
            raise StepFailed("terraform init", [Finding("infra/", _tail(done.stdout + done.stderr))])

    def apply(self) -> int:
        """Apply; return how many resources were created. Errors are findings naming the resource."""
        done = self._run("apply", "-auto-approve", "-input=false", "-no-color", "-json",
                         f"-parallelism={PARALLELISM}", *self.arguments, timeout=900)
        messages = _messages(done.stdout)
        if done.returncode != 0:
            raise StepFailed("terraform apply", _diagnostics(messages) or [Finding("infra/", _tail(done.stderr))])
        summaries = [m["changes"] for m in messages if m.get("type") == "change_summary"]
        self.resources_created = int(summaries[-1]["add"]) if summaries else 0
        return self.resources_created

    def outputs(self) -> dict[str, Any]:
        done = self._run("output", "-json", "-no-color")
        if done.returncode != 0:
            raise StepFailed("terraform output", [Finding("infra/", _tail(done.stdout + done.stderr))])
        return {name: spec["value"] for name, spec in json.loads(done.stdout).items()}

    def state(self) -> list[dict[str, Any]]:
        """Every resource instance in the state (`terraform show -json`): address, type, values."""
        done = self._run("show", "-json", "-no-color")
        if done.returncode != 0:
            raise StepFailed("terraform show", [Finding("infra/", _tail(done.stdout + done.stderr))])
        module = json.loads(done.stdout).get("values", {}).get("root_module", {})
        return [r for r in module.get("resources", []) if r.get("mode") == "managed"]

    def plan(self, var_files: Iterable[Path] = (), refresh: bool = True) -> Plan:
        """`terraform plan` of the applied state: empty, or findings. A plan that fails (a map
        variable missing a key, a bad reference) is a finding per distinct error."""
        plan_file = self.workdir / "rehearsal.tfplan"
        extra = [f"-var-file={Path(f).resolve()}" for f in var_files]
        done = self._run(
            "plan",
            "-input=false",
            "-no-color",
            "-json",
            "-detailed-exitcode",
            f"-refresh={str(refresh).lower()}",
            f"-parallelism={PARALLELISM}",
            f"-out={plan_file}",
            *self.arguments,
            *extra,
        )
        if done.returncode == 0:
            return Plan()
        if done.returncode != 2:
            return Plan(findings=_diagnostics(_messages(done.stdout)) or [Finding("infra/", _tail(done.stderr))])
        shown = self._run("show", "-json", "-no-color", str(plan_file))
        if shown.returncode != 0:
            raise StepFailed("terraform show", [Finding("infra/", _tail(shown.stdout + shown.stderr))])
        return _classify(json.loads(shown.stdout))


def _classify(plan: dict[str, Any]) -> Plan:
    result = Plan()
    for change in plan.get("resource_changes", []):
        actions = change["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            continue
        address = change["address"]
        before, after = change["change"].get("before") or {}, change["change"].get("after") or {}
        unknown = change["change"].get("after_unknown") or {}
        differing = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k) or unknown.get(k))
        if actions == ["update"] and differing and not any(unknown.get(k) for k in differing) \
                and all(_same_json(before.get(k), after.get(k)) for k in differing):
            result.artefacts.append((address, ", ".join(differing)))
            continue
        result.findings.append(
            Finding(
                address,
                f"a second plan would {'/'.join(actions)} it"
                + (f" ({', '.join(differing)} differ)" if differing and actions == ["update"] else ""),
            )
        )
    for name, change in (plan.get("output_changes") or {}).items():
        if change.get("actions") not in (["no-op"], None):
            result.findings.append(Finding(f"output.{name}", f"a second plan would {'/'.join(change['actions'])} it"))
    return result


def _same_json(before: Any, after: Any) -> bool:
    if not (isinstance(before, str) and isinstance(after, str)):
        return False
    try:
        return json.loads(before) == json.loads(after)
    except ValueError:
        return False


def _messages(stdout: str) -> list[dict[str, Any]]:
    messages = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                messages.append(json.loads(line))
            except ValueError:
                continue
    return messages


def _diagnostics(messages: list[dict[str, Any]]) -> list[Finding]:
    """Terraform's error diagnostics, one finding per distinct error, named by the resource."""
    findings: dict[tuple[str, str], Finding] = {}
    for message in messages:
        diagnostic = message.get("diagnostic") or {}
        if message.get("type") != "diagnostic" or diagnostic.get("severity") != "error":
            continue
        snippet = diagnostic.get("snippet") or {}
        where = diagnostic.get("range") or {}
        resource = diagnostic.get("address") or _context_address(snippet.get("context") or "") \
            or where.get("filename") or "infra/"
        values = "; ".join(f"{v['traversal']} {v['statement']}" for v in snippet.get("values") or [])
        location = f"{where['filename']}:{where['start']['line']}" if where.get("filename") else ""
        text = " ".join(p for p in (f"{diagnostic.get('summary', '')}:", diagnostic.get("detail", "")) if p)
        details = ", ".join(p for p in (location, values) if p)
        finding = Finding(resource, f"{text} ({details})" if details else text)
        findings.setdefault((finding.resource, finding.message), finding)
    return list(findings.values())


def _context_address(context: str) -> str:
    """'resource "aws_sqs_queue" "this"' -> 'aws_sqs_queue.this'."""
    parts = context.replace('"', " ").split()
    if len(parts) == 3 and parts[0] in ("resource", "data"):
        return ".".join(parts[1:]) if parts[0] == "resource" else "data." + ".".join(parts[1:])
    return context


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
