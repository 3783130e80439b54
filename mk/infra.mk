# Infra tooling: aws-sam-cli and checkov pin old boto3/urllib3/pydantic, so each lives in its own
# virtualenv under .tools/, never in the project's .venv.
# (Their paths, SAM and CHECKOV, are set in the Makefile: deploy.mk needs them too, and a
# target's prerequisites are read when its file is included.)
TF_PLUGIN_DIR ?= /opt/tf-plugins

.PHONY: tools infra-check infra-validate sam-validate checkov

$(SAM):
	@if [ -z "$(PYTHON313)" ]; then echo "python3.13 not found (pyenv prefix 3.13, or python3.13 on PATH)"; exit 1; fi
	rm -rf $(TOOLS)/sam
	$(PYTHON313) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_VERSION)
	@test -x $@ && touch $@

$(CHECKOV):
	@if [ -z "$(PYTHON313)" ]; then echo "python3.13 not found (pyenv prefix 3.13, or python3.13 on PATH)"; exit 1; fi
	rm -rf $(TOOLS)/checkov
	$(PYTHON313) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	@test -x $@ && touch $@

tools: $(SAM) $(CHECKOV) ## install aws-sam-cli and checkov, each in its own virtualenv under .tools/

infra-validate: ## terraform fmt -check, init (local provider mirror) and validate on infra/
	terraform -chdir=infra fmt -check -recursive
	terraform -chdir=infra init -backend=false -input=false -plugin-dir=$(TF_PLUGIN_DIR)
	terraform -chdir=infra validate

sam-validate: $(SAM) ## sam validate --lint on template.yaml (offline, dummy credentials)
	AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
		SAM_CLI_TELEMETRY=0 $(SAM) validate --lint --template-file template.yaml

# checkov skips the resources of a Fn::ForEach loop: it reads template.yaml as CloudFormation
# expands it (AWS::LanguageExtensions, local.stack.language_extensions).
checkov: $(CHECKOV) $(STAMP) ## checkov on infra/ and template.yaml (offline; the template with its loops expanded)
	BC_SKIP_MAPPING=TRUE $(CHECKOV) -d infra --framework terraform --skip-download --quiet --compact
	@mkdir -p .build
	$(PY) -m local.stack.template template.yaml > .build/template.expanded.json
	BC_SKIP_MAPPING=TRUE $(CHECKOV) -f .build/template.expanded.json --framework cloudformation --skip-download --quiet --compact

infra-check: tools $(STAMP) ## the infra tests: cfn-lint, sam validate, terraform, checkov, consistency
	$(PY) -m pytest tests/infra
