"""Development helper for certificate login.

    python manage.py sign_challenge --key key.pem --challenge NONCE
        prints the base64 signature of the challenge (RSA: PKCS#1 v1.5, EC: ECDSA; SHA-256),
        the same signature a CryptoPro-style browser plug-in would produce in production;

    python manage.py sign_challenge --make-demo-ca DIR --snils "112-233-445 95"
        creates a demo certification centre, trusted by writing its certificate into
        TRUSTED_CA_CERTIFICATES_DIR, and a user certificate with that SNILS plus its key in DIR.

The demo CA is refused when DJANGO_ENV=production: a CA whose key lies next to the code would let
anyone who can read that key log in as any worker.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.certificates import OID_SNILS
from core import validators

DEMO_CA_CERT_NAME = "medreg-demo-ca.pem"
DEMO_CA_KEY_NAME = "demo-ca-key.pem"
# Common names are limited to 64 bytes, i.e. about 32 Cyrillic letters.
DEMO_CA_NAME = "Медрег: демо-УЦ"


class Command(BaseCommand):
    help = "Sign a certificate-login challenge with a private key, or create a demo CA and user certificate."

    def add_arguments(self, parser):
        parser.add_argument("--key", type=Path, help="Private key (PEM) to sign with.")
        parser.add_argument("--key-password", default=None, help="Password of an encrypted private key.")
        parser.add_argument("--challenge", help="The code shown on the certificate login page.")
        parser.add_argument(
            "--make-demo-ca", type=Path, metavar="DIR", help="Create a demo CA and a user certificate + key in DIR."
        )
        parser.add_argument("--snils", help="SNILS for the demo user certificate.")
        parser.add_argument("--name", default="Демонстрационный пользователь", help="Owner name (CN).")
        parser.add_argument("--key-type", choices=["ec", "rsa"], default="ec", help="User key type (default: ec).")
        parser.add_argument("--days", type=int, default=365, help="Validity of the user certificate, days.")

    def handle(self, *args, **options):
        if options["make_demo_ca"]:
            self._make_demo(options)
        elif options["key"] and options["challenge"] is not None:
            self.stdout.write(self._sign(options["key"], options["key_password"], options["challenge"]))
        else:
            raise CommandError("Укажите --key и --challenge (подписать код) или --make-demo-ca DIR --snils СНИЛС.")

    # --- Signing --------------------------------------------------------------------------------

    def _sign(self, key_path: Path, password: str | None, challenge: str) -> str:
        try:
            key = serialization.load_pem_private_key(
                key_path.read_bytes(), password=password.encode() if password else None
            )
        except OSError as exc:
            raise CommandError(f"Не удалось прочитать ключ {key_path}: {exc.strerror}") from exc
        except (ValueError, TypeError) as exc:
            raise CommandError(f"{key_path}: не закрытый ключ PEM или неверный пароль ключа ({exc})") from exc
        # The exact challenge bytes, as the server checks them; a stray newline from copying is
        # not part of the code.
        data = challenge.strip().encode("utf-8")
        if isinstance(key, rsa.RSAPrivateKey):
            signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
        else:
            raise CommandError("Поддерживаются ключи RSA и EC (ECDSA); ключи ГОСТ подписывайте средствами КриптоПро.")
        return base64.b64encode(signature).decode("ascii")

    # --- Demo CA --------------------------------------------------------------------------------

    def _make_demo(self, options) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "Демонстрационный удостоверяющий центр нельзя создавать в продуктиве (DJANGO_ENV=production)."
            )
        if not options["snils"]:
            raise CommandError("Укажите --snils для сертификата пользователя.")
        try:
            snils = validators.normalize_snils(options["snils"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if options["days"] < 1:
            raise CommandError("--days должен быть положительным.")
        if not 1 <= len(options["name"].encode("utf-8")) <= 64:
            raise CommandError("--name: от 1 до 64 байт (около 32 русских букв).")
        out_dir: Path = options["make_demo_ca"]
        trusted_dir = Path(settings.TRUSTED_CA_CERTIFICATES_DIR)
        out_dir.mkdir(parents=True, exist_ok=True)
        trusted_dir.mkdir(parents=True, exist_ok=True)

        ca_cert_path, ca_key_path = trusted_dir / DEMO_CA_CERT_NAME, out_dir / DEMO_CA_KEY_NAME
        ca_cert, ca_key = _load_demo_ca(ca_cert_path, ca_key_path)
        if ca_cert is None:
            ca_key = ec.generate_private_key(ec.SECP256R1())
            ca_cert = _build_ca(ca_key)
            _write_private(ca_key_path, ca_key)
            ca_cert_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
            self.stdout.write(f"Создан демонстрационный УЦ: {ca_cert_path} (доверенный), ключ УЦ: {ca_key_path}")
        else:
            self.stdout.write(f"Используется демонстрационный УЦ: {ca_cert_path}")

        if options["key_type"] == "rsa":
            user_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            user_key = ec.generate_private_key(ec.SECP256R1())
        user_cert = _build_user(user_key, ca_cert, ca_key, snils=snils, name=options["name"], days=options["days"])
        cert_path, key_path = out_dir / f"user-{snils}.pem", out_dir / f"user-{snils}-key.pem"
        cert_path.write_bytes(user_cert.public_bytes(serialization.Encoding.PEM))
        _write_private(key_path, user_key)
        self.stdout.write(f"Сертификат пользователя: {cert_path}")
        self.stdout.write(f"Закрытый ключ пользователя: {key_path}")
        self.stdout.write(
            "Откройте страницу входа по электронной подписи, вставьте сертификат и подпись кода:\n"
            f"  python manage.py sign_challenge --key {key_path} --challenge КОД_СО_СТРАНИЦЫ"
        )


def _write_private(path: Path, key) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Created owner-only from the start, not chmod-ed after being world-readable for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _load_demo_ca(cert_path: Path, key_path: Path):
    """The existing demo CA when both halves are present and belong together, else (None, None)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None, None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    same = cert.public_key().public_bytes(serialization.Encoding.DER, spki) == key.public_key().public_bytes(
        serialization.Encoding.DER, spki
    )
    if not same or cert.not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=1):
        return None, None
    return cert, key


def _build_ca(key) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "RU"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Медрег (демо)"),
            x509.NameAttribute(NameOID.COMMON_NAME, DEMO_CA_NAME),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=5 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _build_user(key, ca_cert: x509.Certificate, ca_key, *, snils: str, name: str, days: int) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "RU"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            # Qualified certificates carry SNILS as a NumericString (приказ ФСБ № 795).
            x509.NameAttribute(OID_SNILS, snils, _type=x509.name._ASN1Type.NumericString),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=not cert_sign,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
