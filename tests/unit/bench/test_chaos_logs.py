"""bench.chaos_logs: the secrets no log line of the chaos run may hold."""

from __future__ import annotations

import logging
import sys

from bench.chaos_logs import LogCapture, Secrets, leaks


def test_given_secrets_then_lines_holding_one_are_found_and_others_are_not():
    secrets = Secrets()
    secrets.add_provider_secret("flowsms", {"username": "sandbox", "password": "sandbox-password"})
    secrets.add("tk_live_abcdef", "the tenant's API key")
    secrets.otps.append(("482913", "Chaos code 482913 ok", ("msg_1", "otp_1", "224620000001")))
    lines = [
        '{"message": "login", "password": "sandbox-password"}',
        "Authorization: Basic c2FuZGJveDpzYW5kYm94LXBhc3N3b3Jk",
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
        '{"message_id": "msg_1", "code": 482913}',
        '{"timestamp": "2026-12-07 04:50:41,482913", "message": "sent"}',  # the code's digits, alone
        '{"message": "sent", "message_id": "msg_2"}',
        "key tk_live_abcdef used",
    ]

    found = leaks(lines, secrets)

    assert [leak.what for leak in found] == ["flowsms password", "flowsms Basic credentials", "a JWT", "an OTP code",
                                             "the tenant's API key"]


def test_given_capture_installed_then_prints_and_log_records_are_kept():
    capture = LogCapture().install()
    try:
        print("a printed line")
        sys.stderr.write("an error line\n")
        logging.getLogger("local.stack.test").warning("a warning")
    finally:
        capture.uninstall()
    assert "a printed line" in capture.lines and "an error line" in capture.lines
    assert any(line.endswith("a warning") for line in capture.lines)
