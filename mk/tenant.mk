# A tenant's API keys (local/tenant_keys.py): against the running local stack, or AWS with AWS=1.
#   make tenant-key ACTION=list   TENANT=ten_...
#   make tenant-key ACTION=create TENANT=ten_... NAME=billing      (prints the new key once)
#   make tenant-key ACTION=rotate TENANT=ten_... KEY_ID=key_... [GRACE=24h]
#   make tenant-key ACTION=revoke TENANT=ten_... KEY_ID=key_...
#   make tenant-key ACTION=adopt                                  (once: keys made before key ids)
.PHONY: tenant-key

tenant-key: $(STAMP) ## a tenant's keys: make tenant-key ACTION=list|create|rotate|revoke TENANT=ten_... [NAME=x] [KEY_ID=key_...] [GRACE=24h] [AWS=1 ENV=dev]
	@test -n "$(ACTION)" || { echo "usage: make tenant-key ACTION=list|create|rotate|revoke|adopt TENANT=ten_... [NAME=...] [KEY_ID=...] [GRACE=24h] [AWS=1 ENV=dev]"; exit 2; }
	$(PY) -m local.tenant_keys "$(ACTION)" $(if $(TENANT),--tenant "$(TENANT)") $(if $(NAME),--name "$(NAME)") \
		$(if $(KEY_ID),--key "$(KEY_ID)") $(if $(GRACE),--grace "$(GRACE)") $(if $(AWS),--aws --env "$(ENV)",)
