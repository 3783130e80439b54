"""Message templates of one-time codes. A template must contain `{{code}}`; `{{minutes}}`
(the validity, rounded up) is filled in when the code is created. What is stored is the
template with `{{code}}` still literal: only the sender, in memory, puts the code in."""

from __future__ import annotations

import math

from tamtam.errors import InvalidRequest

CODE = "{{code}}"
MINUTES = "{{minutes}}"

DEFAULT_TEMPLATES = {
    "fr": "Votre code de vérification est {{code}}. Il expire dans {{minutes}} min. Ne le partagez avec personne.",
    "en": "Your verification code is {{code}}. It expires in {{minutes}} min. Never share it with anyone.",
}


def prepare(template: str | None, *, locale: str, ttl_seconds: int) -> str:
    """The text to store: the caller's template (or the locale's default) with the validity
    filled in and the code placeholder kept. 422 `invalid_template` without `{{code}}`."""
    if template is None:
        if locale not in DEFAULT_TEMPLATES:
            raise InvalidRequest(f"no default template for locale {locale!r}", field="locale", code="invalid_value")
        template = DEFAULT_TEMPLATES[locale]
    if CODE not in template:
        raise InvalidRequest(f"the template must contain {CODE}", field="template", code="invalid_template")
    return template.replace(MINUTES, str(math.ceil(ttl_seconds / 60)))


def render(text: str, code: str) -> str:
    return text.replace(CODE, code)


def sized_like(text: str, length: int) -> str:
    """The text as long as it will be once rendered (a stand-in code), to count segments."""
    return render(text, "0" * length)
