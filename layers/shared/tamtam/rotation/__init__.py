"""Rotation of the provider secrets: the four steps Secrets Manager calls (createSecret,
setSecret, testSecret, finishSecret), after aws-samples/aws-secrets-manager-rotation-lambdas.

Every step first checks the staging labels: the token must name a version of the secret that
is AWSPENDING (a version already AWSCURRENT means the rotation is done: nothing to do), and
every step is idempotent, since Secrets Manager retries a failed one. What changes from one
provider to another (renew a key, issue a token, or only re-check a password that cannot be
changed through an API) is in `rotators`.
"""

from tamtam.rotation.labels import RotationError
from tamtam.rotation.steps import STEPS, rotate

__all__ = ["STEPS", "RotationError", "rotate"]
