# Contract fuzzing: schemathesis against the local stack, with the OpenAPI document the stack
# serves (tests/contract/fuzzing.py; what it checks: tests/contract/schemathesis.toml). The small
# run of `make test` is tests/contract/test_fuzz.py. How to read it: docs/performance.md.
#   make fuzz                   about 2,000 cases asked, 2,211 generated (~1.5 min on 2 cores)
#   make fuzz FUZZ_CASES=10000  a longer run
#   make fuzz FUZZ_SEED=n       replay the run of seed n (each run prints its seed)
# The tools (schemathesis, openapi-spec-validator, openapi-python-client) are pinned in
# requirements-dev.txt: they install beside the project's pins, in .venv.
.PHONY: fuzz

fuzz: $(STAMP) ## fuzz the API on the local stack with its OpenAPI document: FUZZ_CASES=n (default 2,000), FUZZ_SEED=n; prints cases, failures per check, server errors; exits 1 on any failure
	$(PY) -m tests.contract.fuzzing $(if $(FUZZ_CASES),--cases $(FUZZ_CASES)) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))
