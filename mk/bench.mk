# Measurements on the local stack (bench/: laptop-only code, never shipped to Lambda). Each
# prints one table; how to read them and the last figures: docs/performance.md.
#   make bench                  all six lines (~25 min on 2 cores, most of it the 10,000 bulk)
#   make bench BULK=2000        the cost line with a smaller bulk (~10 min less)
#   make bench ONLY=cost        one scenario: coldstart, cost, acceptance, otp, pacing
.PHONY: bench chaos

bench: $(STAMP) ## speed and cost on the local stack: AWS requests and $ per message, sender concurrency, bulk acceptance, cold starts, OTP under load, pacing
	$(if $(BULK),BENCH_BULK=$(BULK)) $(if $(SINGLES),BENCH_SINGLES=$(SINGLES)) \
		$(PY) -m bench bench $(foreach s,$(ONLY),--only $(s))

chaos: $(STAMP) ## 1,000 messages under provider faults, redeliveries and sender crashes; fails unless none is lost, stuck or sent twice (~5 min)
	$(PY) -m bench chaos
