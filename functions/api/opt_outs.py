"""/v1/opt-outs/{phone}: the account's opt-out list by hand (README "Inbound messages and
opt-outs"). A number on it gets no message from the account (422 `recipient_opted_out`;
rejected in a bulk), except one-time codes and, if the account allows it, sends marked
transactional. STOP replies put numbers on it by themselves, START replies take them off."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from api.opt_outs_models import OptOutDeleted, OptOutView
from api.router import Call, operation
from tamtam import aws, clock
from tamtam.errors import InvalidRequest, NotFound
from tamtam.phone import InvalidPhoneNumber, to_e164
from tamtam.settings import get_settings
from tamtam.store import opt_outs
from tamtam.store.opt_outs import OptOutItem

PHONE = "+224622000001"
VIEW_EXAMPLE = {"phone": PHONE, "opted_out": True, "source": "keyword", "keyword": "STOP", "provider": "smsgate",
                "inbound_id": "inb_01jd3zf4h6k8m0p2r4t6v8x0z2", "created_at": "2026-05-01T09:00:04.870Z"}
_PHONE_ERRORS = {422: ("invalid_phone",)}


def _table() -> Any:
    return aws.table(get_settings().table_name)


def _phone(call: Call) -> str:
    """The path's number in E.164 (national numbers of the default region are accepted)."""
    try:
        return to_e164(unquote(call.params["phone"]), get_settings().phone_default_region)
    except InvalidPhoneNumber as exc:
        raise InvalidRequest(str(exc), field="phone", code="invalid_phone") from None


def _view(item: OptOutItem) -> OptOutView:
    return OptOutView.model_validate(item.model_dump(exclude={"tenant_id"}))


@operation("GET", "/v1/opt-outs/{phone}", summary="Whether a number opted out of the account's messages",
           tag="opt-outs", answer=OptOutView, answer_example=VIEW_EXAMPLE,
           description="200 when the number is on the account's opt-out list, 404 when it is not.",
           errors={404: ("not_found",), **_PHONE_ERRORS})
def get_opt_out(call: Call) -> OptOutView:
    found = opt_outs.get(_table(), call.tenant_id, _phone(call), consistent=True)
    if found is None:
        raise NotFound("this number is not on the opt-out list", field="phone")
    return _view(found)


@operation("PUT", "/v1/opt-outs/{phone}", summary="Put a number on the account's opt-out list", tag="opt-outs",
           answer=OptOutView, answer_example={**VIEW_EXAMPLE, "source": "api", "keyword": None, "provider": None,
                                              "inbound_id": None},
           description="The account's sends to this number answer 422 `recipient_opted_out` from now on (bulk: "
           "rejected). A number already on the list keeps its entry (how and when it opted out).",
           errors=_PHONE_ERRORS)
def put_opt_out(call: Call) -> OptOutView:
    item = OptOutItem(phone=_phone(call), tenant_id=call.tenant_id, source=opt_outs.API, created_at=clock.iso())
    return _view(opt_outs.put(_table(), item))


@operation("DELETE", "/v1/opt-outs/{phone}", summary="Take a number off the account's opt-out list", tag="opt-outs",
           answer=OptOutDeleted, answer_example={"phone": PHONE, "opted_out": False},
           description="Only when the person asked to hear from you again (a START reply does this by itself).",
           errors={404: ("not_found",), **_PHONE_ERRORS})
def delete_opt_out(call: Call) -> OptOutDeleted:
    phone = _phone(call)
    if opt_outs.delete(_table(), call.tenant_id, phone) is None:
        raise NotFound("this number is not on the opt-out list", field="phone")
    return OptOutDeleted(phone=phone)
