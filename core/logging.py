"""Logging filters: the request id on every record, and personal data scrubbed before a record is
written anywhere (152-FZ: logs are kept longer and read by more people than the database).

ScrubFilter works on the final text of the record (message with its arguments, and the traceback),
so a value cannot slip through as a %-argument, an exception message or a repr of a dict. It is
deliberately blunt: any run of 10-12 digits (SNILS, INN; registry numbers too, which costs a little
debugging comfort) and anything that looks like a phone number or an e-mail address is masked.
"""

from __future__ import annotations

import contextvars
import logging
import re

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

MASK = "[скрыто]"

# key=value / "key": "value" pairs whose value is a secret: passwords, one-time codes, tokens, keys.
_SENSITIVE_NAMES = (
    r"password\w*|passwd|pwd|pass|secret\w*|token|api[_-]?key|authorization|otp|one[_-]?time[_-]?code|"
    r"(?:sms_|otp_|verification_|confirmation_)?code|pin|cookie|sessionid|csrftoken|csrfmiddlewaretoken|"
    r"пароль|код\w*"
)
_SECRET_PAIR = re.compile(
    r"(?i)(?P<key>[\"']?\b(?:" + _SENSITIVE_NAMES + r")[\"']?\s*(?:[:=]|\s+is\s+|:\s)\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|b'[^']*'|[^\s,;&}\]\)]+)"
)
# "Код подтверждения: 123456", "code for user 5 is 482913": digits a few words after the word code.
_CODE_NEAR = re.compile(r"(?i)(\b(?:code|otp|код\w*)\b[^\d\n]{0,40}?)\b\d{4,8}\b")
_EMAIL = re.compile(r"(?i)\b[A-Z0-9._%+-]+@[A-Z0-9.-]+\.[A-Z]{2,}\b")
# SNILS as written (123-456-789 01) and any bare 10-12 digit run (SNILS, INN of a person or organisation).
_SNILS = re.compile(r"\b\d{3}-\d{3}-\d{3}[ -]?\d{2}\b")
_LONG_NUMBER = re.compile(r"(?<![\d.])\d{10,12}(?![\d.])")
# Russian phone numbers in the usual spellings: +7 (912) 345-67-89, 8-912-345-67-89, +79123456789.
_PHONE = re.compile(r"(?<![\w+])(?:\+7|8|7)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?!\d)")
_PHONE_INTL = re.compile(r"(?<!\w)\+\d[\d\s()-]{9,17}\d")
# Long base64/hex runs: an encrypted blob, a key or a piece of a document.
_BLOB = re.compile(r"[A-Za-z0-9+/_-]{64,}={0,2}")


# Object ids (documents, jobs, Celery tasks) are UUIDs, not personal data, and their digit runs
# must not be taken for SNILS or phones: they are kept whole and the text between them is scrubbed.
_UUID = re.compile(r"(\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)")


def scrub(text: str) -> str:
    """The text with secrets and personal data masked."""
    if not text:
        return text
    parts = _UUID.split(text)
    # re.split with a group: the UUIDs are at the odd positions.
    return "".join(part if index % 2 else _scrub_part(part) for index, part in enumerate(parts))


def _scrub_part(text: str) -> str:
    text = _SECRET_PAIR.sub(lambda m: m.group("key") + MASK, text)
    text = _CODE_NEAR.sub(lambda m: m.group(1) + MASK, text)
    text = _EMAIL.sub(MASK, text)
    text = _SNILS.sub(MASK, text)
    text = _PHONE.sub(MASK, text)
    text = _PHONE_INTL.sub(MASK, text)
    text = _LONG_NUMBER.sub(MASK, text)
    text = _BLOB.sub(MASK, text)
    return text


def _safe_arg(value):
    # Document contents arrive as bytes: log the size, never the bytes.
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} байт>"
    return value


class ScrubFilter(logging.Filter):
    """Masks secrets and personal data in a record's message and traceback; never drops a record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            args = record.args
            if isinstance(args, tuple):
                record.args = tuple(_safe_arg(a) for a in args)
            elif isinstance(args, dict):
                record.args = {k: _safe_arg(v) for k, v in args.items()}
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record, nor leak its arguments
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id``: the id of the request being served, or "-" outside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True
