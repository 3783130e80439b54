# Measurements on the local stack (bench/: laptop-only code, never shipped to Lambda). Each
# prints one table; how to read them and the last figures: docs/performance.md.
#   make bench                  all seven lines (~25 min on 2 cores, most of it the 10,000 bulk)
#   make bench BULK=2000        the cost line with a smaller bulk (~10 min less)
#   make bench ONLY=cost        one scenario: coldstart, cost, acceptance, otp, otp_paced, pacing, lists
#   make chaos                  1,000 messages under every fault at once (bench/chaos.py), ~8 min
#   make chaos-short            the few hundred messages of tests/e2e/test_chaos.py, ~3 min
#   CHAOS_SEED=n                another draw of the faults (default 7)
.PHONY: bench chaos chaos-short

bench: $(STAMP) ## speed and cost on the local stack: AWS requests and $ per message, sender concurrency, bulk acceptance, cold starts, OTP under load, pacing, provider requests per bulk message
	$(if $(BULK),BENCH_BULK=$(BULK)) $(if $(SINGLES),BENCH_SINGLES=$(SINGLES)) \
		$(PY) -m bench bench $(foreach s,$(ONLY),--only $(s))

chaos: $(STAMP) ## 1,000 messages under provider, AWS (throttles, 500s, conflicts), kill, timeout, TLS and redelivery faults; exits 1 unless every invariant holds (~8 min)
	$(PY) -m bench chaos

chaos-short: $(STAMP) ## the short chaos run of `make test` (a few hundred messages, every fault kind), same table (~3 min)
	CHAOS_PLAN=short $(PY) -m bench chaos

.PHONY: capacity
capacity: $(STAMP) ## where tamtam saturates on AWS and its bill at 1M messages an hour, from the bench's figures and AWS quotas (docs/capacity.md)
	$(PY) -m bench.capacity
