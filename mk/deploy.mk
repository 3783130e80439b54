# Build, local invoke and deployment. The state (infra/, Terraform) is applied before the code
# and wiring (template.yaml, SAM), which reads infra's names from SSM parameters.
ENV ?= dev
BUILD_DIR := .aws-sam/build
TF_APPLY_FLAGS ?=

.PHONY: build invoke deploy infra-apply sam-deploy

# sam build runs pip for the python3.13 runtime: without Docker, python3.13 must be first on PATH.
# The build is then byte-compiled (unchecked-hash: the .pyc are used as they are, whatever the
# file times become in the zip), which roughly halves the import time of a cold start.
# SAM CLI cannot build template.yaml's Fn::ForEach loops itself (without --language-extensions
# its translator fails on them; with it, it fills SSM parameter defaults into !Split/!Select):
# it builds the template with the loops expanded as CloudFormation does (local.stack.language_extensions).
build: $(SAM) $(STAMP) ## sam build into .aws-sam/build without Docker, byte-compiled
	@if [ -z "$(PYTHON313)" ]; then echo "python3.13 not found (pyenv prefix 3.13, or python3.13 on PATH)"; exit 1; fi
	@mkdir -p .build
	$(PY) -m local.stack.template template.yaml > .build/template.expanded.json
	PATH="$(dir $(PYTHON313)):$$PATH" SAM_CLI_TELEMETRY=0 $(SAM) build --template-file .build/template.expanded.json \
		--base-dir . --build-dir $(BUILD_DIR) --cached --parallel
	$(PYTHON313) -m compileall -q -j 0 --invalidation-mode unchecked-hash $(BUILD_DIR)

invoke: $(STAMP) ## run one function locally with an event: make invoke FN=sender EVENT=events/sender/passeinfo_tx.json
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<function> EVENT=events/<function>/<case>.json"; exit 2; }
	$(PY) -m local.invoke --function "$(FN)" --event "$(EVENT)"

infra-apply: ## terraform apply of infra/ for ENV (one Terraform workspace per environment)
	terraform -chdir=infra init -input=false
	terraform -chdir=infra workspace select -or-create $(ENV)
	terraform -chdir=infra apply -input=false -var environment=$(ENV) $(TF_APPLY_FLAGS)

sam-deploy: build ## sam deploy of the build with samconfig.toml's ENV section (dev, prod)
	SAM_CLI_TELEMETRY=0 $(SAM) deploy --config-env $(ENV)

deploy: infra-apply sam-deploy ## deploy ENV (default dev): terraform apply (infra/), then sam build + sam deploy (template.yaml)
