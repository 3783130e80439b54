"""The local stack: moto server, provisioning from infra/ and template.yaml, a local API
Gateway, SQS pollers and schedules, all in one process on 127.0.0.1 (`python -m local.stack`)."""
