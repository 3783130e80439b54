"""AWS_IAM routes of the local API Gateway: a request must carry a Signature Version 4
`Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` header made
with credentials the local stack knows (the dummy ones every local client uses). The signature is
checked by computing it again with botocore's SigV4Auth over the same method, path, query, signed
headers and body, and comparing: so anything a botocore client signs passes, and a tenant's
`Bearer` key, a changed body, header or path, another secret, region or service never does.

Not reproduced: IAM policies (every known credential may call every AWS_IAM route), session
tokens' validity, query-string (presigned) signatures.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

SCHEME = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
MAX_SKEW = 300  # seconds between the request's X-Amz-Date and the gateway's clock
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_FIELD = re.compile(r"\s*(Credential|SignedHeaders|Signature)=([^,\s]*)\s*")


class SignatureError(Exception):
    """The request is refused: `response_type` is the gateway response it gets."""

    def __init__(self, response_type: str, message: str):
        super().__init__(message)
        self.response_type = response_type
        self.message = message


@dataclass(frozen=True)
class Caller:
    """Who signed: what API Gateway puts in requestContext.identity for an IAM-authorized call."""

    access_key: str
    account_id: str

    @property
    def user_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:user/{self.access_key}"

    def identity(self) -> dict[str, str]:
        return {"accessKey": self.access_key, "accountId": self.account_id, "caller": self.access_key,
                "user": self.access_key, "userArn": self.user_arn}


class _Recompute(SigV4Auth):
    """SigV4Auth signing exactly the headers the client says it signed."""

    def __init__(self, credentials: Credentials, region: str, signed: HTTPHeaders):
        super().__init__(credentials, SERVICE, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        return self._signed


def _invalid(message: str) -> SignatureError:
    return SignatureError("INVALID_SIGNATURE", message)


def parse_authorization(value: str) -> tuple[list[str], list[str], str]:
    """(credential scope parts, signed header names, signature) of an AWS4-HMAC-SHA256 header."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme != SCHEME:
        raise _invalid(f"Authorization header requires the {SCHEME} scheme (a tenant key does not open this route)")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        match = _FIELD.fullmatch(part)
        if not match:
            raise _invalid(f"Authorization header is malformed near {part.strip()[:40]!r}")
        fields[match.group(1)] = match.group(2)
    missing = [f for f in ("Credential", "SignedHeaders", "Signature") if not fields.get(f)]
    if missing:
        raise _invalid("Authorization header requires " + ", ".join(f"'{f}'" for f in missing) + " parameter(s)")
    return fields["Credential"].split("/"), fields["SignedHeaders"].split(";"), fields["Signature"]


def verify(*, method: str, target: str, headers: list[tuple[str, str]], body: bytes, region: str,
           credentials: Mapping[str, str], account_id: str, now: float) -> Caller:
    """The caller of a correctly signed request, or SignatureError. `target`: the request line's
    path and query as sent; `credentials`: access key id -> secret access key."""
    found = [v for k, v in headers if k.lower() == "authorization"]
    if not found:
        raise SignatureError("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
    scope, signed_names, signature = parse_authorization(found[-1])
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise _invalid("Credential must be <access key>/<date>/<region>/<service>/aws4_request")
    access_key, day, scope_region, service, _ = scope
    if service != SERVICE or scope_region != region:
        raise _invalid(f"Credential should be scoped to region {region!r} and service {SERVICE!r}")
    if access_key not in credentials:
        raise SignatureError("INVALID_SIGNATURE", "The security token included in the request is invalid.")
    by_name: dict[str, list[str]] = {}
    for k, v in headers:
        by_name.setdefault(k.lower(), []).append(v)
    amz_date = (by_name.get("x-amz-date") or [""])[-1]
    _check_time(amz_date, day, now, signed_names)
    if "host" not in signed_names:
        raise _invalid("the host header must be signed")
    content_sha = (by_name.get("x-amz-content-sha256") or [None])[-1]
    if content_sha is not None and content_sha != hashlib.sha256(body).hexdigest():
        raise _invalid("X-Amz-Content-SHA256 does not match the body")
    signed = HTTPHeaders()
    for name in signed_names:
        if name not in by_name:
            raise _invalid(f"signed header {name!r} is not in the request")
        for value in by_name[name]:
            signed[name] = value
    request = AWSRequest(method=method, url=f"http://{by_name['host'][-1]}{target}", data=body)
    request.context["timestamp"] = amz_date
    signer = _Recompute(Credentials(access_key, credentials[access_key]), region, signed)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, signature):
        raise _invalid("The request signature we calculated does not match the signature you provided.")
    return Caller(access_key=access_key, account_id=account_id)


def _check_time(amz_date: str, day: str, now: float, signed_names: list[str]) -> None:
    try:
        moment = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC).timestamp()
    except ValueError as exc:
        raise _invalid("the request needs a signed X-Amz-Date header (YYYYMMDDTHHMMSSZ)") from exc
    if "x-amz-date" not in signed_names or amz_date[:8] != day:
        raise _invalid("X-Amz-Date must be signed and fall on the credential scope's date")
    if abs(now - moment) > MAX_SKEW:
        raise _invalid(f"Signature expired: {amz_date} is more than {MAX_SKEW} s from the gateway's time")


def sign(method: str, url: str, *, body: bytes = b"", headers: Mapping[str, str] | None = None, region: str,
         access_key: str, secret_key: str, token: str | None = None) -> dict[str, str]:
    """The headers of `method url` signed for execute-api (what an operator's SDK sends)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(access_key, secret_key, token), SERVICE, region).add_auth(request)
    return dict(request.headers.items())
