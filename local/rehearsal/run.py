"""One rehearsal: a throwaway moto server, infra/ applied with the real terraform, a second plan,
template.yaml packaged, translated and created as a stack, the wiring checked; then everything
it started is stopped and its temporary directory removed.

`Rehearsal` is a context manager whose steps can also be run one by one (the tests apply infra/
once, then create several variants of the stack against it).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from local.rehearsal import checks, stack
from local.rehearsal.findings import Finding, StepFailed
from local.rehearsal.package import ensure_bucket, package, translate
from local.rehearsal.server import Account, MotoServer
from local.rehearsal.terraform import Plan, Terraform
from local.stack.template import load_template
from tamtam.providers.registry import PROVIDER_NAMES

REPO = Path(__file__).resolve().parents[2]
TRANSLATOR = REPO / ".tools" / "samtranslator" / "bin" / "python"
BUCKET = "aws-sam-cli-managed-rehearsal"
ALWAYS_LEFT_OUT = (
    "the functions' code is their source directories zipped, not `sam build` output, and nothing is invoked",
    "IAM policies are created but not evaluated (moto allows every call)",
)


@dataclass(frozen=True)
class DeployConfig:
    """samconfig.toml's deploy section of one environment: what `sam deploy --config-env` uses."""

    env: str
    stack_name: str
    region: str
    overrides: dict[str, str]
    capabilities: list[str]
    s3_prefix: str


def read_samconfig(path: Path, env: str) -> DeployConfig:
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    if "deploy" not in config.get(env, {}):
        raise SystemExit(f"{path.name} has no [{env}.deploy.parameters]")
    deploy = config[env]["deploy"]["parameters"]
    raw = deploy.get("parameter_overrides", [])
    pairs = raw if isinstance(raw, list) else raw.split()
    region = deploy.get("region") or config.get("default", {}).get("global", {}).get("parameters", {}).get("region")
    return DeployConfig(env=env, stack_name=deploy["stack_name"], region=region or "eu-west-1",
                        overrides=dict(p.split("=", 1) for p in pairs),
                        capabilities=deploy.get("capabilities", "CAPABILITY_IAM").split(),
                        s3_prefix=deploy.get("s3_prefix", deploy["stack_name"]))


def code_dirs(template: dict[str, Any]) -> dict[str, str]:
    """Function logical id -> the name of its package, its directory under functions/ (the
    first part of its Handler, `<function>.handler.lambda_handler`)."""
    default = ((template.get("Globals") or {}).get("Function") or {}).get("Handler")
    return {lid: str((r.get("Properties") or {}).get("Handler", default)).split(".", 1)[0]
            for lid, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}


@dataclass
class Outcome:
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.findings


class Rehearsal:
    def __init__(self, env: str = "dev", root: Path = REPO, var_files: Iterable[Path] = (),
                 translator: Path = TRANSLATOR, terraform: str | None = None,
                 say: Callable[[str], None] = print) -> None:
        self.root = root
        self.config = read_samconfig(root / "samconfig.toml", env)
        self.var_files = [Path(f) for f in var_files]
        self.translator = translator
        self.terraform_binary = terraform or shutil.which("terraform") or ""
        self.say = say
        self.deployment: stack.Deployment | None = None
        self.outputs: dict[str, Any] = {}
        self.tf_state: list[dict[str, Any]] = []
        self.code_dirs: dict[str, str] = {}

    def __enter__(self) -> Self:
        if not self.terraform_binary:
            raise SystemExit("the deploy rehearsal needs terraform on PATH")
        self.tmp = Path(tempfile.mkdtemp(prefix="tamtam-rehearsal-"))
        self.server = MotoServer(self.tmp / "moto.log")
        try:
            endpoint = self.server.start()
            self.account = Account(endpoint, self.config.region)
            self.terraform = Terraform(self.terraform_binary, self.root / "infra", self.tmp / "infra", endpoint,
                                       self.config.region, {"environment": self.config.env}, self.var_files)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- steps ----------------------------------------------------------------------------------
    def apply(self) -> None:
        started = time.monotonic()
        self.terraform.init()
        created = self.terraform.apply()
        self.outputs = self.terraform.outputs()
        self.tf_state = self.terraform.state()
        self.say(f"  terraform apply: {created} resources created ({time.monotonic() - started:.0f} s)")
        missing = checks.missing_outputs(self.outputs)
        if missing:
            raise StepFailed("terraform outputs", missing)

    def plan(self, var_files: Iterable[Path] = (), refresh: bool = True) -> Plan:
        return self.terraform.plan(var_files, refresh=refresh)

    def deploy(self, template_path: Path | None = None, code_root: Path | None = None) -> stack.Deployment:
        """Package, translate and create the stack (replacing the one created before)."""
        if self.deployment is not None:
            self.remove()
        template_path = template_path or self.root / "template.yaml"
        code_root = code_root or template_path.parent
        source = load_template(template_path)
        self.code_dirs = code_dirs(source)
        ensure_bucket(self.account, BUCKET)
        artifacts = package(self.account, source, code_root, BUCKET, self.config.s3_prefix)
        translated = translate(self.translator, template_path, artifacts, self.config.overrides, self.config.region,
                               self.tmp / "translated.json")
        refused = stack.check_parameters(self.account, translated.get("Parameters") or {}, self.config.overrides,
                                         f"samconfig.toml [{self.config.env}]")
        if refused:
            raise StepFailed("stack parameters", refused)
        try:
            self.deployment = stack.create(self.account, translated, self.config.stack_name, self.config.overrides,
                                           self.config.capabilities, BUCKET, self.config.s3_prefix)
        except (BotoCoreError, ResponseParserError) as error:
            self._delete_stack()
            raise StepFailed("create stack", [Finding(f"stack {self.config.stack_name}", str(error))]) from error
        except StepFailed:
            self._delete_stack()
            raise
        return self.deployment

    def check(self) -> list[checks.Check]:
        assert self.deployment is not None, "deploy() first"  # noqa: S101 - a caller's bug; narrows the type for mypy
        emulated = checks.Emulated(self.account, self.outputs, self.tf_state, self.deployment, self.code_dirs,
                                   tuple(PROVIDER_NAMES))
        results = [check(emulated) for check in checks.CHECKS]
        for result in results:
            result.findings.sort(key=lambda f: (f.resource, f.message))
        return results

    def remove(self) -> None:
        if self.deployment is not None:
            stack.remove(self.account, self.deployment)
            self.deployment = None

    def _delete_stack(self) -> None:
        with contextlib.suppress(ClientError, BotoCoreError, ResponseParserError):  # nothing was created
            self.account.client("cloudformation").delete_stack(StackName=self.config.stack_name)

    # -- the whole rehearsal --------------------------------------------------------------------
    def run(self) -> Outcome:
        started, outcome = time.monotonic(), Outcome()
        say = self.say
        say(f"deploy rehearsal of ENV={self.config.env} in a throwaway moto server at {self.account.endpoint} "
            f"(work directory {self.tmp}, removed at the end)")
        try:
            self.apply()
            second = self.plan()
            for (resource, attributes), count in sorted(
                Counter((a.split("[")[0], attrs) for a, attrs in second.artefacts).items()
            ):
                say(f"  moto artefact, not a change: {attributes} of {resource} ({count} instances): moto returns "
                    "that JSON with spaces, equal to what Terraform sent")
            changes = "no change" if not second.findings else f"{len(second.findings)} changes"
            say(f"  terraform plan (second): {changes}")
            outcome.findings += second.findings
            deployment = self.deploy()
            created = deployment.created
            say(
                f"  stack {deployment.stack_name}: {deployment.by_stack} resources by moto's CloudFormation, "
                f"{len(created.alarms)} alarms and {len(created.rotations)} rotation schedules "
                f"through the API after it (moto's CloudFormation skips them)"
                + (
                    f"; {len(created.placeholders)} empty secrets first given a placeholder value, as an operator "
                    "sets them"
                    if created.placeholders
                    else ""
                )
            )
            for check in self.check():
                say(f"  {'ok  ' if not check.findings else 'FAIL'} {check.name}: {check.summary}")
                outcome.findings += check.findings
        except StepFailed as failed:
            say(f"  FAIL {failed.step}: the steps after it did not run")
            outcome.findings += failed.findings
        self._report_left_out()
        outcome.seconds = time.monotonic() - started
        for finding in outcome.findings:
            say(f"FAIL {finding}")
        verdict = "PASSED" if outcome.passed else f"FAILED ({len(outcome.findings)} findings)"
        say(
            f"deploy rehearsal {verdict} in {outcome.seconds:.0f} s. This was a rehearsal in an emulator, not a deploy."
        )
        return outcome

    def _report_left_out(self) -> None:
        self.say("not rehearsed (moto cannot represent it; a real deploy creates it):")
        if self.deployment is not None:
            for logical_id, kind, why in self.deployment.left_out:
                self.say(f"  - {logical_id} ({kind}): {why}")
            for note in self.deployment.notes:
                self.say(f"  - {note}")
        for note in ALWAYS_LEFT_OUT:
            self.say(f"  - {note}")
