"""Fakes of the two AWS clients the OTP code talks to, for unit tests."""

from __future__ import annotations

from typing import Any


class FakeKms:
    """Encrypt/decrypt with the encryption context checked, as KMS does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def encrypt(self, *, KeyId: str, Plaintext: bytes, EncryptionContext: dict) -> dict:  # noqa: N803
        self.calls.append(("encrypt", {"KeyId": KeyId, **EncryptionContext}))
        return {"CiphertextBlob": repr(sorted(EncryptionContext.items())).encode() + b"|" + Plaintext[::-1]}

    def decrypt(self, *, CiphertextBlob: bytes, EncryptionContext: dict, **kw) -> dict:  # noqa: N803
        self.calls.append(("decrypt", {**kw, **EncryptionContext}))
        context, _, body = CiphertextBlob.partition(b"|")
        if context != repr(sorted(EncryptionContext.items())).encode():
            raise ValueError("InvalidCiphertextException")
        return {"Plaintext": body[::-1]}


class FakeTable:
    """get_item by key; update_item applies the new status and hands the record back."""

    def __init__(self, items: list[dict[str, Any]]):
        self.items = {(i["pk"], i["sk"]): i for i in items}
        self.updates: list[dict[str, Any]] = []

    def get_item(self, *, Key: dict, **_: Any) -> dict:  # noqa: N803
        item = self.items.get((Key["pk"], Key["sk"]))
        return {"Item": item} if item else {}

    def update_item(self, **kw: Any) -> dict:
        self.updates.append(kw)
        item = dict(self.items[(kw["Key"]["pk"], kw["Key"]["sk"])])
        item["status"] = kw["ExpressionAttributeValues"][":new"]
        item["history"] = [*item["history"], *kw["ExpressionAttributeValues"][":h"]]
        return {"Attributes": item}
