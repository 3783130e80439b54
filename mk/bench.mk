# Measurements on the local stack (bench/, laptop-only code that never ships to Lambda).
# Each prints one table; figures and how to read them: docs/performance.md.
.PHONY: bench chaos

bench: $(STAMP) ## speed and cost on the local stack: AWS requests and $ per message, sender concurrency, bulk acceptance, cold starts, OTP under load, pacing (~10 min)
	$(PY) -m bench bench

chaos: $(STAMP) ## 1,000 messages through the local stack under provider faults, redeliveries and sender crashes; fails unless nothing is lost, stuck or sent twice
	$(PY) -m bench chaos
