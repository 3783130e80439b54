"""The deploy rehearsal (`make deploy-rehearsal`, docs/deploy.md): infra/ applied with the real
terraform and template.yaml created as a CloudFormation stack, in a throwaway moto server, then
the wiring checked there. Laptop and CI only; never shipped to Lambda.

run.py drives the steps: server.py (the moto server), terraform.py, package.py (+ translate.py,
run in the translator's own virtualenv), stack.py (+ skipped.py, intrinsics.py), checks.py (+
design.py). timeouts.py is the static timeout check, which needs no terraform.
"""
