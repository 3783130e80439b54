# Deploy rehearsal (docs/deploy.md): `make deploy ENV=<env>` rehearsed in a throwaway moto server
# on loopback: infra/ applied with the real terraform, a second plan that must be empty,
# template.yaml translated (aws-sam-translator) and created as a stack, the wiring checked.
#   make deploy-rehearsal                        ENV=dev (samconfig.toml's dev section), ~2 min
#   make deploy-rehearsal VAR_FILE=my.tfvars     with your own variables, as your deploy applies them
# The translator lives in its own virtualenv under .tools/ (pins: local/rehearsal/requirements.txt);
# `make tools` installs it too, so `make test` (tests/infra/test_deploy_rehearsal.py) has it.
SAMTRANSLATOR := $(TOOLS)/samtranslator/.installed

.PHONY: deploy-rehearsal

$(SAMTRANSLATOR): local/rehearsal/requirements.txt
	@if [ -z "$(PYTHON313)" ]; then echo "python3.13 not found (pyenv prefix 3.13, or python3.13 on PATH)"; exit 1; fi
	rm -rf $(TOOLS)/samtranslator
	$(PYTHON313) -m venv $(TOOLS)/samtranslator
	$(TOOLS)/samtranslator/bin/python -m pip install --quiet --disable-pip-version-check -r local/rehearsal/requirements.txt
	@touch $@

tools: $(SAMTRANSLATOR)

deploy-rehearsal: $(STAMP) $(SAMTRANSLATOR) ## rehearse `make deploy ENV=...` in a throwaway moto server: terraform apply + a second empty plan, the SAM stack, wiring checks (queues/DLQs, event sources, timeouts, rotation, alarms); VAR_FILE=x.tfvars
	@command -v terraform >/dev/null || { echo "deploy-rehearsal needs terraform on PATH"; exit 2; }
	$(PY) -m local.rehearsal --env $(ENV) $(foreach f,$(VAR_FILE),--var-file $(f))
