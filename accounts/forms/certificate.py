"""The certificate login form: the certificate and the signature of the page's one-time code."""

from __future__ import annotations

from django import forms

from .. import certificates


class _PasteArea(forms.Textarea):
    """A textarea that does not echo back what cannot be useful: oversized input (megabytes of
    garbage would go straight back into the page), a pasted private key, or a signature that is
    void anyway because a failed attempt always gets a new code."""

    def __init__(self, *, limit: int, echo: bool = True, attrs=None):
        super().__init__(attrs={"rows": 8, "spellcheck": "false", "autocomplete": "off", **(attrs or {})})
        self.limit, self.echo = limit, echo

    def format_value(self, value):
        if not self.echo or value is None:
            return None
        text = str(value)
        if len(text) > self.limit or "PRIVATE KEY" in text:
            return None
        return super().format_value(text)


class CertificateLoginForm(forms.Form):
    certificate = forms.CharField(
        label="Сертификат",
        max_length=certificates.MAX_CERTIFICATE_CHARS,
        widget=_PasteArea(limit=certificates.MAX_CERTIFICATE_CHARS, attrs={"rows": 10}),
        help_text="Текст файла сертификата (формат PEM), начиная со строки «-----BEGIN CERTIFICATE-----». "
        "Сертификаты промежуточных удостоверяющих центров можно добавить следом.",
        error_messages={
            "required": "Вставьте сертификат.",
            "max_length": "Сертификат слишком длинный: допускается не больше %(limit_value)s символов.",
        },
    )
    signature = forms.CharField(
        label="Подпись",
        max_length=certificates.MAX_SIGNATURE_CHARS,
        widget=_PasteArea(limit=certificates.MAX_SIGNATURE_CHARS, echo=False, attrs={"rows": 4}),
        help_text="Подпись кода в кодировке base64.",
        error_messages={
            "required": "Вставьте подпись кода.",
            "max_length": "Подпись слишком длинная: допускается не больше %(limit_value)s символов.",
        },
    )
