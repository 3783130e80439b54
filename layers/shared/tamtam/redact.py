"""What of a provider's answer, or of an error, may be kept: credentials taken out.

Provider answers are kept for diagnosis (`attempts[].raw_text`, which tenants read; an error's
text, which reaches logs and Lambda error reports). A misbehaving endpoint (a proxy page, a debug
handler, a token endpoint answering something unexpected) may echo what it was sent: the API
key header, the password of a login, a token. `redact` removes what looks like one:

- fields named like a credential (`password`, `api_key`, `Api-Key`, `client_secret`, `token`,
  `access_token`, `authorization`, `signing_key`, `pepper`, `cookie`, JSON `access`/`refresh`...)
  in JSON (plain or escaped inside a JSON string), Python reprs, forms, queries and headers;
- `Bearer ...` / `Basic ...` credentials, JWTs;
- long runs of hex (32+) and of mixed-case base64 with digits (24+): keys and tokens.

Ids (ours: lowercase base32; UUIDs; provider ids) and prose survive. Every pattern runs in
linear time (possessive quantifiers, no nested choices): a provider's answer can be anything.
`error_keys` is what of an exception may be logged: its type, the fields a validation error
names, a provider error's reason and (redacted) words; never `str(exc)` of anything that read a
secret.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"

# `name` + separator (`"name": `, `name=`, `Name: `, `\"name\": `, `'name': `). Whether the name
# says credential is decided on the name alone (_credential), then its value is taken.
_KEY = re.compile(r"""(?<![\w.-])(?P<name>[\w.-]++)(?P<sep>(?:\\?["'])?+[ \t]*+[:=][ \t]*+)""")
_CREDENTIAL_WORDS = re.compile(
    r"password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|private[_-]?key|signing[_-]?key"
    r"|access[_-]?key|pepper|authori[sz]ation|credential|cookie",
    re.IGNORECASE,
)
_CREDENTIAL_NAMES = frozenset({"access", "refresh", "key", "pass", "jwt"})
# Names such as `token_type`, `token_id`, `expires_at` say what kind, not what value: kept.
_KEPT_SUFFIXES = ("type", "class", "id", "url", "uri", "name", "expires_in", "_at", "ttl", "scope", "scopes",
                  "count", "lifetime", "length")
_VALUE = re.compile(
    r'\\"(?:(?!\\").)*+(?:\\"|$)'  # "…" escaped inside a JSON string: \"value\"
    r'|"(?:[^"\\]|\\.)*+(?:"|$)'  # "value" (or cut short: the text was truncated)
    r"|'(?:[^'\\]|\\.)*+(?:'|$)"  # 'value' (a Python repr)
    r"|\[redacted\]"  # done already
    r"|(?:(?i:Bearer|Basic|Digest|Token)[ \t]++)?+[^\s\"'\\&,;}\]<>]++"  # bare: a form, query, header
)
# `Bearer <credential>` anywhere (a header echoed in prose).
_SCHEME = re.compile(r"\b(?P<scheme>(?i:Bearer|Basic|Digest))[ \t]++(?P<value>[\w.~+/=-]{8,}+)")
_JWT = re.compile(r"\beyJ[\w-]{5,}+\.[\w-]{5,}+(?:\.[\w-]*+)?+")
_HEX = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{32,}+")
_RUN = re.compile(r"(?<![\w+/-])[\w+/-]{24,}+={0,2}")


def _credential(name: str) -> bool:
    lowered = name.lower()
    if lowered.endswith(_KEPT_SUFFIXES):
        return False
    return lowered in _CREDENTIAL_NAMES or _CREDENTIAL_WORDS.search(lowered) is not None


def _redacted_value(value: str) -> str:
    quote = next((q for q in ('\\"', '"', "'") if value.startswith(q)), "")
    if not quote:
        return value if value == REDACTED else REDACTED
    inner = value[len(quote):]
    closed = len(inner) >= len(quote) and inner.endswith(quote)
    inner = inner[: -len(quote)] if closed else inner
    return f"{quote}{REDACTED if inner else ''}{quote if closed else ''}"


def _fields(text: str) -> str:
    out: list[str] = []
    done = 0  # text before this is copied (or its value redacted)
    for key in _KEY.finditer(text):
        if key.start() < done or not _credential(key.group("name")):
            continue
        value = _VALUE.match(text, key.end())
        if value is None:
            continue
        out += [text[done : key.end()], _redacted_value(value.group())]
        done = value.end()
    return "".join(out) + text[done:]


def _looks_like_a_credential(value: str) -> bool:
    """A digit or a symbol of base64, or mixed case: prose ("Basic authentication") has none."""
    return any(c.isdigit() or c in "+/=" for c in value) or (value.lower() != value and value.upper() != value)


def _mixed_run(match: re.Match[str]) -> str:
    """A long run of base64 letters is a key when it mixes digits, lower and upper case (our ids
    are lowercase, provider error codes uppercase)."""
    run = match.group()
    mixed = any(c.isdigit() for c in run) and any(c.islower() for c in run) and any(c.isupper() for c in run)
    return REDACTED if mixed else run


def redact(text: str | None) -> str | None:
    """`text` with every credential-looking part replaced by `[redacted]` (None stays None).
    Idempotent: redacting twice changes nothing more."""
    if not text:
        return text
    text = _fields(text)
    text = _SCHEME.sub(lambda m: f"{m['scheme']} {REDACTED}" if _looks_like_a_credential(m["value"]) else m[0], text)
    text = _JWT.sub(REDACTED, text)
    text = _HEX.sub(REDACTED, text)
    return _RUN.sub(_mixed_run, text)


def error_keys(exc: BaseException) -> dict[str, Any]:
    """Log keys describing `exc` without its text (a validation error's text quotes its input
    unless the model hides it, a transport error's may hold a URL and its query): the type,
    the fields a validation error names, what an error that has `log_keys()` says of itself (a
    provider error: its reason, status and redacted words, tamtam.providers.base)."""
    from pydantic import ValidationError  # noqa: PLC0415

    keys: dict[str, Any] = {"error": type(exc).__name__}
    own = getattr(exc, "log_keys", None)
    if isinstance(exc, ValidationError):
        keys["fields"] = sorted({".".join(str(part) for part in error["loc"]) or "(root)" for error in exc.errors()})
    elif callable(own):
        keys.update(own())
    return keys
