"""Rotation: Secrets Manager calls it four times per rotation of a provider secret (createSecret,
setSecret, testSecret, finishSecret). The provider is the one whose PROVIDER_SECRETS entry is
this secret; what each step does for it is in tamtam.rotation. A failing step raises: Secrets
Manager retries it, the secret keeps its AWSCURRENT version, and the error alarm fires."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from rotation.event import RotationEvent
from tamtam import aws
from tamtam.observability import logger
from tamtam.rotation import rotate
from tamtam.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    request = RotationEvent.model_validate(event)
    rotate(
        request.step,
        request.secret_id,
        request.token,
        sm=aws.client("secretsmanager"),
        provider_secrets=get_settings().provider_secrets,
    )
