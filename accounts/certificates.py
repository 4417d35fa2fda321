"""Login with an electronic-signature certificate (вход по электронной подписи).

The flow is challenge-response. ``challenge_issue`` puts a random one-time nonce into the
session; the client signs the exact UTF-8 bytes of that nonce with the private key of its X.509
certificate and sends the certificate (a PEM bundle, leaf first, intermediates optional) and the
signature (base64). ``certificate_login_verify`` consumes the nonce and checks, in this order:
the format, the SNILS in the subject, the signature over the nonce, key usage, the chain to a
trusted certification centre (удостоверяющий центр) and the validity period, and finally that
the SNILS has an active worker account. ``certificate_login`` wraps it with the lockout, the
audit journal and ``login_complete``.

Trust: every certificate in ``settings.TRUSTED_CA_CERTIFICATES_DIR`` (PEM or DER files, roots
and intermediates of accredited centres) is a trust anchor; nothing else is trusted. Chains are
built and checked by ``cryptography.x509.verification`` (RFC 5280 web-PKI profile: issuer
signatures, CA basic constraints and key usage, validity of every certificate, path length),
with one relaxation: a client certificate need not carry a subjectAltName, which Russian
qualified certificates usually lack.

Extension point for GOST R 34.10-2012. Russian qualified certificates mostly use GOST keys,
which ``cryptography`` (OpenSSL) cannot verify. Signature checks are looked up in
``SIGNATURE_VERIFIERS`` by the OID of the certificate's public-key algorithm; a verifier is
``(certificate, signature, data) -> None`` and raises ``InvalidSignature`` (or a
``CertificateError``). GOST keys (OIDs in ``GOST_PUBLIC_KEY_ALGORITHMS``) have no verifier today
and are refused with the code ``unsupported_algorithm``. Supporting them takes two pieces:

1. register a verifier for ``1.2.643.7.1.1.1.1`` / ``1.2.643.7.1.1.1.2`` (GOST R 34.10-2012
   over the GOST R 34.11-2012 "Streebog" hash, e.g. with ``pygost`` or a CryptoPro/signing
   service call), reading the key from ``certificate.public_bytes(Encoding.DER)``;
2. replace ``_chain_verify`` for GOST chains, because the web-PKI verifier only knows RSA and
   ECDSA issuer signatures (the CA certificates of accredited centres are GOST-signed too).

In production the browser side is a CryptoPro-style plug-in that produces a CMS (CAdES-BES)
signature rather than a bare one; unwrapping it belongs in the same extension.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone

from core import validators
from core.audit import audit_record
from core.models import AuditEntry

from . import services
from .models import User

logger = logging.getLogger(__name__)

CHALLENGE_SESSION_KEY = "accounts.certificate_challenge"
CHALLENGE_TTL = dt.timedelta(minutes=5)
CHALLENGE_BYTES = 32

# A leaf plus a few intermediates is a few kilobytes; anything bigger is not a certificate and is
# refused before any parsing. A 4096-bit RSA signature is 684 base64 characters.
MAX_CERTIFICATE_CHARS = 20_000
MAX_SIGNATURE_CHARS = 2_000
MAX_BUNDLE_CERTIFICATES = 5
MAX_CHAIN_DEPTH = 6
MIN_RSA_KEY_BITS = 2048

OID_SNILS = x509.ObjectIdentifier("1.2.643.100.3")
OID_RSA = "1.2.840.113549.1.1.1"
OID_EC = "1.2.840.10045.2.1"
GOST_PUBLIC_KEY_ALGORITHMS = {
    "1.2.643.7.1.1.1.1": "ГОСТ Р 34.10-2012 (256 бит)",
    "1.2.643.7.1.1.1.2": "ГОСТ Р 34.10-2012 (512 бит)",
    "1.2.643.2.2.19": "ГОСТ Р 34.10-2001",
}

MESSAGES = {
    "no_challenge": "Код для подписи не найден или уже использован. Подпишите новый код, показанный на странице.",
    "challenge_expired": "Срок действия кода для подписи истёк (5 минут). Подпишите новый код, показанный на странице.",
    "bad_format": "Не удалось прочитать сертификат или подпись. Вставьте сертификат в формате PEM "
    "(«-----BEGIN CERTIFICATE-----») и подпись в кодировке base64.",
    "private_key": "Вы вставили закрытый ключ, а не сертификат. Никому не передавайте закрытый ключ; "
    "вставьте сертификат («-----BEGIN CERTIFICATE-----»).",
    "no_snils": "В сертификате нет корректного СНИЛС владельца (OID 1.2.643.100.3). "
    "Для входа нужен сертификат физического лица со СНИЛС.",
    "unsupported_algorithm": "Алгоритм ключа этого сертификата пока не поддерживается. "
    "Сейчас принимаются сертификаты с ключами RSA (от 2048 бит) и ECDSA (P-256, P-384).",
    "bad_signature": "Подпись не соответствует коду для подписи или сертификату. Подпишите код, показанный "
    "на странице сейчас, закрытым ключом именно этого сертификата.",
    "key_usage": "Сертификат не предназначен для электронной подписи (в нём не разрешено назначение "
    "«цифровая подпись»). Используйте сертификат для подписи.",
    "client_auth": "Сертификат не предназначен для проверки подлинности клиента (входа в системы). "
    "Используйте другой сертификат.",
    "untrusted": "Сертификат выдан удостоверяющим центром, которому портал не доверяет, или цепочка "
    "сертификатов недействительна. Используйте сертификат аккредитованного удостоверяющего центра.",
    "unknown_user": "Учётная запись медицинского работника с СНИЛС из сертификата не найдена. "
    "Зарегистрируйтесь, а затем войдите по электронной подписи.",
    "inactive": "Учётная запись заблокирована. Обратитесь в службу поддержки.",
    "locked": "Вход временно заблокирован после неудачных попыток.",
}


class CertificateError(Exception):
    """A refused certificate login; ``code`` is stable (audit, tests), ``message`` is shown as is.

    ``snils`` is set once it has been read from the certificate, so the caller can count the
    failure toward that SNILS's lockout.
    """

    def __init__(self, code: str, message: str | None = None, *, snils: str | None = None, details=None):
        self.code = code
        self.message = message or MESSAGES[code]
        self.snils = snils
        self.details = details or {}
        super().__init__(self.message)


@dataclass(frozen=True)
class VerifiedCertificate:
    snils: str
    user: User
    certificate: x509.Certificate


# --- Challenge ----------------------------------------------------------------------------------


def challenge_issue(*, session, now: dt.datetime | None = None) -> str:
    """A fresh random nonce (32 bytes, hex) for the session; it replaces any earlier one.

    Hex, not base64url: a nonce starting with "-" would be taken for an option when pasted into a
    signing tool's command line (sign_challenge --challenge ...)."""
    now = now or timezone.now()
    nonce = secrets.token_hex(CHALLENGE_BYTES)
    session[CHALLENGE_SESSION_KEY] = {"nonce": nonce, "at": now.timestamp()}
    return nonce


def _challenge_take(session, now: dt.datetime) -> str:
    # Popped before anything else: whatever happens next, this nonce is never accepted again.
    data = session.pop(CHALLENGE_SESSION_KEY, None)
    if not isinstance(data, dict) or not isinstance(data.get("nonce"), str) or not data["nonce"]:
        raise CertificateError("no_challenge")
    nonce = data["nonce"]
    issued_at = data.get("at")
    if not isinstance(issued_at, (int, float)) or not 0 <= now.timestamp() - issued_at <= CHALLENGE_TTL.total_seconds():
        raise CertificateError("challenge_expired")
    # Two concurrent requests carrying the same session both read the nonce before either saves
    # the session; the cache (shared Redis in production) lets exactly one of them use it.
    used_key = "accounts:certificate-challenge-used:" + hashlib.sha256(nonce.encode()).hexdigest()
    if not cache.add(used_key, 1, timeout=int(CHALLENGE_TTL.total_seconds()) + 60):
        raise CertificateError("no_challenge")
    return nonce


# --- Parsing ------------------------------------------------------------------------------------


def _parse_certificates(text: object) -> list[x509.Certificate]:
    """The submitted bundle, leaf first; every field used later is parsed here, so a malformed
    certificate is a ``bad_format`` refusal and never an exception further down."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_CERTIFICATE_CHARS:
        raise CertificateError("bad_format")
    if "PRIVATE KEY-----" in text:
        raise CertificateError("private_key")
    try:
        if "-----BEGIN" in text:
            certificates = x509.load_pem_x509_certificates(text.strip().encode("ascii"))
        else:
            # The base64 body without the armour lines, as some tools copy it.
            der = base64.b64decode("".join(text.split()), validate=True)
            certificates = [x509.load_der_x509_certificate(der)]
        if not 1 <= len(certificates) <= MAX_BUNDLE_CERTIFICATES:
            raise ValueError("bundle size")
        for certificate in certificates:
            # Parsing is lazy: touch every field used later while ValueError still means bad_format.
            _ = (certificate.subject, certificate.issuer, certificate.extensions, certificate.public_key_algorithm_oid)
            _ = (certificate.not_valid_before_utc, certificate.not_valid_after_utc)
    except (ValueError, x509.InvalidVersion) as exc:  # ValueError includes UnicodeError and binascii.Error
        raise CertificateError("bad_format") from exc
    return certificates


def _decode_signature(text: object) -> bytes:
    """Standard or URL-safe base64, padding optional, line breaks ignored."""
    if not isinstance(text, str) or len(text) > MAX_SIGNATURE_CHARS:
        raise CertificateError("bad_format")
    compact = "".join(text.split()).replace("-", "+").replace("_", "/").rstrip("=")
    try:
        signature = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except ValueError as exc:
        raise CertificateError("bad_format") from exc
    if not signature:
        raise CertificateError("bad_format")
    return signature


def _certificate_snils(certificate: x509.Certificate) -> str:
    """SNILS from the subject: NumericString in qualified certificates, UTF8String also accepted."""
    attributes = certificate.subject.get_attributes_for_oid(OID_SNILS)
    # Two SNILS in one subject would make "whose certificate is this" ambiguous.
    if len(attributes) != 1 or not isinstance(attributes[0].value, str):
        raise CertificateError("no_snils")
    try:
        return validators.normalize_snils(attributes[0].value)
    except ValidationError as exc:
        raise CertificateError("no_snils") from exc


def certificate_details(certificate: x509.Certificate) -> dict:
    """What the audit journal records about a certificate: enough to find it, no SNILS."""
    try:
        issuer = certificate.issuer.rfc4514_string()[:300]
    except (ValueError, TypeError):  # an odd attribute value must not turn a refusal into a 500
        issuer = ""
    return {
        "serial": format(certificate.serial_number, "x"),
        "issuer": issuer,
        "sha256": certificate.fingerprint(hashes.SHA256()).hex(),
    }


# --- Signature over the challenge ---------------------------------------------------------------

SignatureVerifier = Callable[[x509.Certificate, bytes, bytes], None]


def _verify_rsa(certificate: x509.Certificate, signature: bytes, data: bytes) -> None:
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_KEY_BITS:
        raise CertificateError("unsupported_algorithm")
    key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


def _verify_ecdsa(certificate: x509.Certificate, signature: bytes, data: bytes) -> None:
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, (ec.SECP256R1, ec.SECP384R1)):
        raise CertificateError("unsupported_algorithm")
    try:
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        # Browsers (WebCrypto) give ECDSA signatures as raw r || s rather than DER.
        size = (key.curve.key_size + 7) // 8
        if len(signature) != 2 * size:
            raise
        r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))


# Keyed by the OID of the public-key algorithm in the certificate; see the module docstring.
SIGNATURE_VERIFIERS: dict[str, SignatureVerifier] = {
    OID_RSA: _verify_rsa,
    OID_EC: _verify_ecdsa,
}


def _verify_signature(certificate: x509.Certificate, signature: bytes, data: bytes) -> None:
    oid = certificate.public_key_algorithm_oid.dotted_string
    verifier = SIGNATURE_VERIFIERS.get(oid)
    if verifier is None:
        gost = GOST_PUBLIC_KEY_ALGORITHMS.get(oid)
        if gost:
            raise CertificateError(
                "unsupported_algorithm",
                f"Сертификаты с ключами {gost} пока не поддерживаются для входа на портал. "
                "Войдите по СНИЛС и паролю или используйте сертификат с ключом RSA или ECDSA.",
            )
        raise CertificateError("unsupported_algorithm")
    try:
        verifier(certificate, signature, data)
    except UnsupportedAlgorithm as exc:  # e.g. an elliptic curve OpenSSL does not know
        raise CertificateError("unsupported_algorithm") from exc
    except (InvalidSignature, ValueError) as exc:
        raise CertificateError("bad_signature") from exc


def _check_key_usage(certificate: x509.Certificate) -> None:
    try:
        key_usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        pass
    else:
        if not key_usage.digital_signature:
            raise CertificateError("key_usage")
    # Checked here as well as by the chain verifier, so the refusal names the real reason.
    try:
        purposes = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    if ExtendedKeyUsageOID.CLIENT_AUTH not in purposes and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in purposes:
        raise CertificateError("client_auth")


# --- Chain of trust -----------------------------------------------------------------------------


def _load_trust_anchors(directory: Path) -> list[x509.Certificate]:
    # Read on every login on purpose: a handful of small files, and a CA added or removed by the
    # operator takes effect without a restart.
    anchors: list[x509.Certificate] = []
    if not directory.is_dir():
        return anchors
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.suffix.lower() not in {".pem", ".crt", ".cer"}:
            continue
        try:
            data = path.read_bytes()
            if b"-----BEGIN" in data:
                anchors.extend(x509.load_pem_x509_certificates(data))
            else:
                anchors.append(x509.load_der_x509_certificate(data))
        except (OSError, ValueError, x509.InvalidVersion):
            logger.warning("trusted CA file %s is not a certificate; skipped", path)
    return anchors


def _ee_extension_policy() -> verification.ExtensionPolicy:
    return verification.ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.SubjectAlternativeName, verification.Criticality.AGNOSTIC, None
    )


def _chain_verify(leaf: x509.Certificate, intermediates: list[x509.Certificate], at: dt.datetime) -> None:
    anchors = _load_trust_anchors(Path(settings.TRUSTED_CA_CERTIFICATES_DIR))
    if not anchors:
        logger.warning("certificate login: no trusted CA certificates in %s", settings.TRUSTED_CA_CERTIFICATES_DIR)
        raise CertificateError("untrusted")
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store(anchors))
        .time(at)
        .max_chain_depth(MAX_CHAIN_DEPTH)
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(), ee_policy=_ee_extension_policy()
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except (verification.VerificationError, ValueError) as exc:
        logger.info("certificate login: chain refused: %s", exc)
        raise CertificateError("untrusted") from exc


def _check_trust_and_validity(leaf: x509.Certificate, intermediates: list[x509.Certificate], now: dt.datetime) -> None:
    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    # The chain is judged at a moment inside the leaf's own validity: an expired certificate from
    # a trusted centre is then told "expired, get a new one" and a forged one "untrusted", while a
    # certificate valid today is checked today (an expired issuing CA makes it untrusted).
    _chain_verify(leaf, intermediates, min(max(now, not_before), not_after))
    if now > not_after:
        raise CertificateError(
            "expired",
            f"Срок действия сертификата истёк {timezone.localtime(not_after):%d.%m.%Y}. "
            "Обратитесь в удостоверяющий центр, чтобы получить новый сертификат.",
        )
    if now < not_before:
        raise CertificateError(
            "not_yet_valid",
            f"Сертификат начнёт действовать только {timezone.localtime(not_before):%d.%m.%Y}. "
            "Войдите после этой даты или используйте действующий сертификат.",
        )


# --- Verification -------------------------------------------------------------------------------


def _verify(*, session, certificate_pem: str, signature_b64: str, now: dt.datetime | None) -> VerifiedCertificate:
    now = now or timezone.now()
    nonce = _challenge_take(session, now)
    certificates = _parse_certificates(certificate_pem)
    signature = _decode_signature(signature_b64)
    leaf, intermediates = certificates[0], certificates[1:]
    details = {"certificate": certificate_details(leaf)}
    try:
        snils = _certificate_snils(leaf)
    except CertificateError as exc:
        exc.details = details
        raise
    try:
        _verify_signature(leaf, signature, nonce.encode("utf-8"))
        _check_key_usage(leaf)
        _check_trust_and_validity(leaf, intermediates, now)
        # The signature and the chain prove the caller holds the key of a certificate issued to
        # this SNILS, so saying whether the SNILS has an account tells them nothing new.
        user = User.objects.filter(snils=snils, kind=User.Kind.WORKER).first()
        if user is None:
            raise CertificateError("unknown_user")
        if not user.is_active:
            raise CertificateError("inactive")
    except CertificateError as exc:
        exc.snils, exc.details = snils, details
        raise
    return VerifiedCertificate(snils=snils, user=user, certificate=leaf)


def certificate_login_verify(
    *, session, certificate_pem: str, signature_b64: str, now: dt.datetime | None = None
) -> str:
    """Check a signed challenge and return the SNILS digits of the certificate's owner.

    Consumes the session's challenge whatever the outcome. Raises ``CertificateError``.
    """
    return _verify(session=session, certificate_pem=certificate_pem, signature_b64=signature_b64, now=now).snils


def certificate_login(*, request, certificate_pem: str, signature_b64: str) -> User:
    """Verify a signed challenge, apply the per-SNILS lockout, write the journal and log in.

    A refusal on a certificate that names a SNILS counts toward that SNILS's lockout, exactly
    like a wrong password; while the SNILS is locked even a valid certificate is refused.
    """
    try:
        verified = _verify(
            session=request.session, certificate_pem=certificate_pem, signature_b64=signature_b64, now=None
        )
    except CertificateError as exc:
        raise _refuse(request=request, error=exc) from None
    details = {"certificate": certificate_details(verified.certificate)}
    try:
        services.throttle_check(key=services.login_key(verified.snils))
    except services.AccountLocked:
        raise _refuse(
            request=request, error=CertificateError("locked", snils=verified.snils, details=details)
        ) from None
    audit_record(
        event=AuditEntry.Event.CERTIFICATE_LOGIN,
        subject=verified.user,
        actor=verified.user,
        request=request,
        details=details,
    )
    services.login_complete(request=request, user=verified.user, method="certificate")
    return verified.user


def _refuse(*, request, error: CertificateError) -> CertificateError:
    """Journal a refusal and count it toward the lockout; returns the error to show."""
    user = None
    shown = error
    locked = False
    if error.snils:
        user = User.objects.filter(snils=error.snils, kind=User.Kind.WORKER).first()
        key = services.login_key(error.snils)
        try:
            # As with passwords: attempts on a locked SNILS are answered "locked" and not counted.
            services.throttle_check(key=key)
        except services.AccountLocked as exc:
            shown, locked = CertificateError("locked", exc.message, snils=error.snils), True
    audit_record(
        event=AuditEntry.Event.CERTIFICATE_REFUSED,
        subject=user,
        request=request,
        details={"reason": error.code, **({"locked": True} if locked else {}), **error.details},
    )
    if error.snils and not locked:
        locked_until = services.throttle_fail(key=services.login_key(error.snils), user=user, request=request)
        if locked_until is not None:
            shown = CertificateError("locked", services.AccountLocked(locked_until).message, snils=error.snils)
    return shown


def certificate_login_refuse_input(*, request) -> None:
    """A submission too malformed to reach verification (empty or oversized fields): it uses up
    the challenge like any other attempt and is journalled as ``bad_format``."""
    request.session.pop(CHALLENGE_SESSION_KEY, None)
    audit_record(
        event=AuditEntry.Event.CERTIFICATE_REFUSED, request=request, details={"reason": "bad_format", "form": True}
    )
