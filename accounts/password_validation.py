"""Password policy: long passwords, no composition rules, no passwords from breach lists.

Following NIST SP 800-63B: length is what makes a password strong, so the policy asks for at least
12 characters and accepts long passphrases (up to 128), sets no rules about digits or capitals,
and refuses passwords that attackers try first: those in a list of common and leaked passwords.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

from django.contrib.auth import password_validation
from django.core.exceptions import ImproperlyConfigured, ValidationError

DEFAULT_PASSWORD_LIST = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"


def _characters(n: int) -> str:
    """«символ» in the form Russian grammar needs after the number n."""
    if n % 10 == 1 and n % 100 != 11:
        return "символ"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "символа"
    return "символов"


@functools.cache
def load_password_list(path: Path = DEFAULT_PASSWORD_LIST) -> frozenset[str]:
    """The list as a frozenset, read once per process on first use (about 180,000 entries, ~20 MB)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return frozenset(line.strip() for line in fh if line.strip())
    except OSError as exc:
        # A missing list must not silently turn the check off.
        raise ImproperlyConfigured(f"Cannot read the common password list {path}: {exc}") from exc


class CommonPasswordListValidator:
    """Refuse a password found in the list of common and leaked passwords (accounts/data/README.md).

    The list is lower-case, so the check is too: «Password1234» is as guessable as «password1234».
    The password is also checked with its whitespace removed, because «qwerty uiop 123» is
    the listed «qwertyuiop123» with spaces added to pass the length rule.
    """

    message = "Пароль слишком распространён: он встречается в утечках паролей. Придумайте другой."

    def __init__(self, password_list_path: str | Path | None = None):
        self.path = Path(password_list_path) if password_list_path else DEFAULT_PASSWORD_LIST

    @property
    def passwords(self) -> frozenset[str]:
        return load_password_list(self.path)

    def validate(self, password: str, user=None) -> None:
        lowered = password.lower().strip()
        candidates = {lowered, "".join(lowered.split())}
        if not candidates.isdisjoint(self.passwords):
            raise ValidationError(self.message, code="password_too_common")

    def get_help_text(self) -> str:
        return "Пароль не должен встречаться в списках распространённых и утёкших паролей."


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    """Django's length check with a Russian message that also says how long the password is now."""

    def __init__(self, min_length: int = 12):
        super().__init__(min_length=min_length)

    def validate(self, password: str, user=None) -> None:
        if len(password) < self.min_length:
            raise ValidationError(
                "Пароль должен содержать не меньше %(min_length)d %(characters)s (сейчас %(length)d).",
                code="password_too_short",
                params={
                    "min_length": self.min_length,
                    "characters": _characters(self.min_length),
                    "length": len(password),
                },
            )

    def get_help_text(self) -> str:
        return f"Не меньше {self.min_length} {_characters(self.min_length)}; подойдёт фраза из нескольких слов."


class MaximumLengthValidator:
    """An upper bound well above what people type (the policy promises at least 64), so that
    a megabyte-long "password" cannot tie up the server in the hashing function."""

    def __init__(self, max_length: int = 128):
        self.max_length = max_length

    def validate(self, password: str, user=None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                "Пароль не может быть длиннее %(max_length)d %(characters)s.",
                code="password_too_long",
                params={"max_length": self.max_length, "characters": _characters(self.max_length)},
            )

    def get_help_text(self) -> str:
        return f"Не длиннее {self.max_length} {_characters(self.max_length)}."
