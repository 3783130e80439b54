"""Run a function's `lambda_handler(event, context)` in this process, the way the Lambda Python
runtime would: the handler module loaded once from its file, the event and the result passed
through JSON, a LambdaContext with a deadline, a timeout reported as an error.

Every function shares this process and its environment (docs/architecture.md: the function
environment is identical for all functions, anything function-specific travels in the event).
Each function is a package of one code directory (functions/: `api.handler.lambda_handler`),
which is appended to `sys.path` once, as Lambda's /var/task: a function's modules import as
`<function>.<module>`, so no two functions share a module name (load_handler).

Hooks for fault-injecting harnesses (`make chaos`), inert unless used:
- `current()`: the invocation running in this thread (None outside a function), with its deadline
  and whether it is dead. `follow_threads()` makes the threads a function starts through a
  ThreadPoolExecutor (the sender's workers, asyncio's `run_in_executor`) see their invocation too.
- CPU time (`Invocation.cpu_seconds`, `Invoker.cpu_seconds()`, `cpu_ms=` in the invoke log line):
  the invoking thread's `time.thread_time()` over the invocation, plus, while `follow_threads()`
  is installed, that of every task the function submits to a ThreadPoolExecutor (two
  `thread_time()` calls per task). Waiting (for moto, a provider, a sleep) burns none.
- `Invoker.remaining_time(logical_id, event)`: seconds to give an invocation instead of its
  timeout (None: the timeout), i.e. a context whose `get_remaining_time_in_millis` is short.
- An invocation that raised `tamtam.failpoints.Killed` (from any thread), or that a harness marked
  dead (`Invocation.kill`), fails as a whole (`Runtime.ExitError`), like a Lambda whose runtime
  exited: an SQS batch is then not deleted, an API caller gets a 5xx. One that ends after its
  deadline fails with `Sandbox.Timedout`, whatever it returned.
"""

from __future__ import annotations

import decimal
import hashlib
import importlib.util
import json
import logging
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar, copy_context
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

try:
    from tamtam.failpoints import Killed
except ImportError:  # a layer without failpoints: nothing can raise it
    class Killed(BaseException):  # type: ignore[no-redef]
        point = ""

log = logging.getLogger("local.stack.invoker")

ACCOUNT_ID = "123456789012"

_IMPORT_LOCK = threading.RLock()  # sys.path and sys.modules are process-wide
_LOADED: dict[tuple[str, str], Callable[[Any, Any], Any]] = {}


@dataclass(frozen=True)
class FunctionConfig:
    """What the invoker needs to know about one function."""

    logical_id: str
    code_dir: Path
    # "<module path>.<function>", as in template.yaml (api.handler.lambda_handler)
    handler: str = "handler.lambda_handler"
    function_name: str = ""  # the physical name; defaults to the logical id
    timeout: float = 30.0  # seconds
    memory_mb: int = 128

    @property
    def name(self) -> str:
        return self.function_name or self.logical_id

    @classmethod
    def package(cls, function: str, functions_dir: Path, **kwargs: Any) -> FunctionConfig:
        """functions/<function> as template.yaml deploys it: CodeUri functions/, Handler
        `<function>.handler.lambda_handler`; the logical id defaults to the function's name."""
        kwargs.setdefault("logical_id", function)
        return cls(code_dir=functions_dir, handler=f"{function}.handler.lambda_handler", **kwargs)


class FunctionError(Exception):
    """The function failed: it raised, timed out, could not be imported, or returned a result
    that is not JSON. Carries the error as Lambda reports it (errorType, errorMessage)."""

    def __init__(self, logical_id: str, error_type: str, message: str, request_id: str):
        super().__init__(f"{logical_id}: {error_type}: {message}")
        self.logical_id = logical_id
        self.error_type = error_type
        self.error_message = message
        self.request_id = request_id


@dataclass
class CognitoIdentity:
    cognito_identity_id: str | None = None
    cognito_identity_pool_id: str | None = None


@dataclass
class LambdaContext:
    """The context object of the Lambda Python runtime (awslambdaric), same attribute names."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: str  # the runtime passes it as a string (from an env var)
    aws_request_id: str
    deadline: float  # time.monotonic() value
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: CognitoIdentity = field(default_factory=CognitoIdentity)
    client_context: Any = None
    tenant_id: str | None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self.deadline - time.monotonic()) * 1000), 0)

    def log(self, msg: str) -> None:
        sys.stdout.write(msg)


@dataclass
class Invocation:
    """One running invocation, as a harness sees it (`current()`)."""

    logical_id: str
    request_id: str
    deadline: float  # time.monotonic() value
    dead: str | None = None  # why it died; nothing of it may run any more
    thread_cpu: float = 0.0  # CPU seconds of the invoking thread, set when the invocation ends
    # CPU seconds of each executor task it submitted (follow_threads); list.append is atomic
    task_cpu: list[float] = field(default_factory=list)

    def kill(self, why: str) -> None:
        self.dead = self.dead or why

    def add_task_cpu(self, seconds: float) -> None:
        self.task_cpu.append(seconds)

    @property
    def cpu_seconds(self) -> float:
        """CPU time of the invocation: its thread's, and its executor tasks' (those that ended)."""
        return self.thread_cpu + sum(self.task_cpu)

    @property
    def overdue(self) -> bool:
        return time.monotonic() > self.deadline


_current: ContextVar[Invocation | None] = ContextVar("local_stack_invocation", default=None)


def current() -> Invocation | None:
    """The invocation this thread runs for (None: not a function's code)."""
    return _current.get()


def _cpu_timed(invocation: Invocation, fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, adding the CPU time of the thread running it to `invocation`."""

    def run(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            invocation.add_task_cpu(time.thread_time() - started)

    return run


def follow_threads() -> Callable[[], None]:
    """Make work submitted to any ThreadPoolExecutor from inside an invocation run in the
    submitter's context, so `current()` knows it there too, and add its thread's CPU time to the
    invocation's. Returns the undo."""
    original = ThreadPoolExecutor.submit

    def submit(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        invocation = _current.get()
        if invocation is None:
            return original(self, fn, *args, **kwargs)
        return original(self, copy_context().run, _cpu_timed(invocation, fn), *args, **kwargs)

    ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]

    def undo() -> None:
        ThreadPoolExecutor.submit = original  # type: ignore[method-assign]

    return undo


def _decimal_default(value: Any) -> Any:
    # The Python runtime serialises Decimal results (DynamoDB numbers) as numbers.
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def load_handler(cfg: FunctionConfig) -> Callable[[Any, Any], Any]:
    """Import `cfg.handler` from `cfg.code_dir` once (thread-safe) and return the callable.

    A handler in a package (`api.handler.lambda_handler`, as template.yaml writes them: the
    CodeUri is functions/ and each function a package there) is imported under its own name,
    with `code_dir` on `sys.path` as Lambda's /var/task: module names are unique by package, so
    functions never share a module by accident. A top-level handler (`handler.lambda_handler`:
    the test stacks' throwaway functions) gets a private module name instead, derived from the
    logical id and its path, so that two `handler.py` never collide in `sys.modules`."""
    module_path, _, attr = cfg.handler.rpartition(".")
    if not module_path or not attr:
        raise ValueError(f"{cfg.logical_id}: handler {cfg.handler!r} is not '<module>.<function>'")
    code_dir = Path(cfg.code_dir).resolve()
    file = code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
    key = (str(file), attr)
    with _IMPORT_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        if str(code_dir) not in sys.path:
            sys.path.append(str(code_dir))
        if "." in module_path:
            module = _import_package_module(module_path, file)
            name = module_path
        else:
            digest = hashlib.sha1(str(file).encode(), usedforsecurity=False).hexdigest()[:8]
            safe_id = "".join(c if c.isalnum() else "_" for c in cfg.logical_id)
            name = f"_tamtam_fn_{safe_id}_{digest}_{module_path}"
            module = _exec_module(name, file)
        fn = getattr(module, attr, None)
        if not callable(fn):
            sys.modules.pop(name, None)
            raise AttributeError(f"{cfg.logical_id}: {file} has no callable {attr!r}")
        _LOADED[key] = fn
        return fn


def _import_package_module(module_path: str, file: Path) -> ModuleType:
    """`module_path` imported afresh (a new cold start re-runs the handler module's init; the
    function's other modules stay cached, as before a package layout). It must be `file`: a
    package of the same name elsewhere on sys.path would be another function's code."""
    sys.modules.pop(module_path, None)
    try:
        module = importlib.import_module(module_path)
    except BaseException:
        sys.modules.pop(module_path, None)  # Lambda retries the init on the next invoke
        raise
    if Path(str(module.__file__)).resolve() != file:
        raise ImportError(f"{module_path} resolves to {module.__file__}, not {file}")
    return module


def forget_loaded() -> None:
    """Load every handler afresh at its next invocation (a new cold start: module-level state of
    the previous one is gone)."""
    for key in list(_LOADED):
        _LOADED.pop(key, None)


def _exec_module(name: str, file: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)  # Lambda retries the init on the next invoke
        raise
    return module


class Invoker:
    """Invokes functions by logical id. Thread-safe; counts invocations, errors and CPU time."""

    def __init__(
        self,
        functions: Iterable[FunctionConfig],
        region: str = "eu-west-1",
        account_id: str = ACCOUNT_ID,
    ):
        self.functions = {f.logical_id: f for f in functions}
        self.region = region
        self.account_id = account_id
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._cpu: dict[str, float] = {}  # logical id -> CPU seconds of its invocations
        self._in_flight = 0
        # Seconds to give an invocation instead of its function's timeout (None: the timeout).
        self.remaining_time: Callable[[str, Any], float | None] | None = None

    def arn(self, logical_id: str) -> str:
        name = self.functions[logical_id].name
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def errors(self) -> dict[str, int]:
        with self._lock:
            return dict(self._errors)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds of every invocation so far, by function (`Invocation.cpu_seconds`)."""
        with self._lock:
            return dict(self._cpu)

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Call the function with `event`; return its (JSON round-tripped) result or raise
        FunctionError."""
        cfg = self.functions[logical_id]
        request_id = str(uuid.uuid4())
        payload = json.loads(json.dumps(event))
        with self._lock:
            self._counts[logical_id] += 1
            self._in_flight += 1
        started, cpu_started = time.monotonic(), time.thread_time()
        invocation: Invocation | None = None
        outcome = "error"
        try:
            budget = cfg.timeout
            if self.remaining_time is not None:
                given = self.remaining_time(cfg.logical_id, payload)
                budget = budget if given is None else min(budget, given)
            invocation = Invocation(cfg.logical_id, request_id, started + budget)
            result = self._call(cfg, payload, invocation, budget)
            outcome = "ok"
            return result
        finally:
            elapsed_ms = (time.monotonic() - started) * 1000
            cpu = 0.0
            if invocation is not None:
                invocation.thread_cpu = time.thread_time() - cpu_started
                cpu = invocation.cpu_seconds
            with self._lock:
                self._in_flight -= 1
                self._cpu[logical_id] = self._cpu.get(logical_id, 0.0) + cpu
                if outcome != "ok":
                    self._errors[logical_id] += 1
            log.info(
                "invoke function=%s request_id=%s duration_ms=%.1f cpu_ms=%.1f outcome=%s",
                logical_id, request_id, elapsed_ms, cpu * 1000, outcome,
            )

    def _call(self, cfg: FunctionConfig, payload: Any, invocation: Invocation, budget: float) -> Any:
        request_id = invocation.request_id

        def fail(error_type: str, message: str) -> FunctionError:
            return FunctionError(cfg.logical_id, error_type, message, request_id)

        token = _current.set(invocation)
        try:
            try:
                handler = load_handler(cfg)
            except Exception as exc:
                log.error("init failed function=%s\n%s", cfg.logical_id, traceback.format_exc())
                raise fail("Runtime.ImportModuleError", str(exc)) from exc
            context = self._context(cfg, request_id, invocation.deadline)
            try:
                result = handler(payload, context)
            except Killed as exc:
                invocation.kill(f"killed at {exc.point}")
                result = None
            except Exception as exc:
                if invocation.dead is None:
                    log.warning("function=%s raised\n%s", cfg.logical_id, traceback.format_exc())
                    raise fail(type(exc).__name__, str(exc)) from exc
                result = None
        finally:
            _current.reset(token)
        if invocation.dead is not None:
            if invocation.dead.startswith("timed out"):
                raise fail("Sandbox.Timedout", f"Task timed out after {budget:.2f} seconds")
            raise fail("Runtime.ExitError", f"RequestId: {request_id} Error: Runtime exited ({invocation.dead})")
        if invocation.overdue:
            raise fail("Sandbox.Timedout", f"Task timed out after {budget:.2f} seconds")
        try:
            return json.loads(json.dumps(result, default=_decimal_default))
        except (TypeError, ValueError) as exc:
            raise fail("Runtime.MarshalError", f"Unable to marshal response: {exc}") from exc

    def _context(self, cfg: FunctionConfig, request_id: str, deadline: float) -> LambdaContext:
        today = datetime.now(UTC).strftime("%Y/%m/%d")
        return LambdaContext(
            function_name=cfg.name,
            invoked_function_arn=self.arn(cfg.logical_id),
            memory_limit_in_mb=str(cfg.memory_mb),
            aws_request_id=request_id,
            deadline=deadline,
            log_group_name=f"/aws/lambda/{cfg.name}",
            log_stream_name=f"{today}/[$LATEST]{uuid.uuid4().hex}",
        )
