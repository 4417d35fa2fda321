"""Certificate login: challenge, signature, chain, validity, SNILS, lockout, journal, dev signer.

Every certificate is made here with `cryptography`: a root CA (ECDSA P-384), an intermediate
(RSA), user certificates with RSA and ECDSA keys and SNILS in OID 1.2.643.100.3.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import random

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import certificates
from accounts.certificates import CertificateError, certificate_login_verify, challenge_issue
from core.models import AuditEntry
from core.validators import snils_from_number
from tests.factories import UserFactory

URL_NAME = "accounts:certificate_login"
DAY = dt.timedelta(days=1)


# --- Building certificates ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys():
    """Key generation is the slow part; one set serves the whole module."""
    return {
        "root": ec.generate_private_key(ec.SECP384R1()),
        "intermediate": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "other_root": ec.generate_private_key(ec.SECP256R1()),
        "user_rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "user_ec": ec.generate_private_key(ec.SECP256R1()),
        "user_ec384": ec.generate_private_key(ec.SECP384R1()),
    }


def _name(cn: str, snils: str | None = None, snils_type=_ASN1Type.NumericString) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "RU"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if snils is not None:
        attributes.append(x509.NameAttribute(certificates.OID_SNILS, snils, _type=snils_type))
    return x509.Name(attributes)


def _key_usage(**enabled) -> x509.KeyUsage:
    flags = dict.fromkeys(
        [
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ],
        False,
    )
    return x509.KeyUsage(**{**flags, **enabled})


def _certificate(
    key,
    subject: x509.Name,
    *,
    issuer: x509.Certificate | None = None,
    issuer_key=None,
    ca: bool = False,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key_usage: x509.KeyUsage | None = None,
    eku: list | None = None,
) -> x509.Certificate:
    now = timezone.now()
    issuer_key = issuer_key or key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - DAY)
        .not_valid_after(not_after or now + 365 * DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(key_usage or _key_usage(key_cert_sign=True, crl_sign=True), critical=True)
    else:
        builder = builder.add_extension(
            key_usage or _key_usage(digital_signature=True, content_commitment=True), critical=True
        )
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(eku or [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def _sign(key, challenge: str) -> str:
    data = challenge.encode()
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode()


class Pki:
    """A trusted root with an intermediate, and helpers to issue user certificates under them."""

    def __init__(self, keys, trusted_dir):
        now = timezone.now()
        self.keys = keys
        self.root = _certificate(
            keys["root"],
            _name("Тестовый корневой УЦ"),
            ca=True,
            not_before=now - 3650 * DAY,
            not_after=now + 3650 * DAY,
        )
        self.intermediate = _certificate(
            keys["intermediate"],
            _name("Тестовый УЦ второго уровня"),
            issuer=self.root,
            issuer_key=keys["root"],
            ca=True,
            not_before=now - 3000 * DAY,
            not_after=now + 3000 * DAY,
        )
        trusted_dir.mkdir()
        (trusted_dir / "root.pem").write_text(_pem(self.root))
        self.trusted_dir = trusted_dir

    def user(self, snils: str, key_name: str = "user_rsa", *, via_intermediate: bool = False, **kwargs):
        issuer, issuer_key = (
            (self.intermediate, self.keys["intermediate"]) if via_intermediate else (self.root, self.keys["root"])
        )
        subject = kwargs.pop("subject", None) or _name(
            "Иванова Мария Петровна", snils, kwargs.pop("snils_type", None) or _ASN1Type.NumericString
        )
        return _certificate(self.keys[key_name], subject, issuer=issuer, issuer_key=issuer_key, **kwargs)


@pytest.fixture
def pki(keys, settings, tmp_path):
    pki = Pki(keys, tmp_path / "trusted_ca")
    settings.TRUSTED_CA_CERTIFICATES_DIR = pki.trusted_dir
    return pki


@pytest.fixture
def worker(db):
    return UserFactory()


# --- Driving the page ---------------------------------------------------------------------------


def _challenge(client) -> str:
    response = client.get(reverse(URL_NAME))
    assert response.status_code == 200
    return response.context["challenge"]


def _login(client, pem: str, key, *, challenge: str | None = None):
    """Open the page, sign what it shows (or `challenge`), post certificate and signature."""
    shown = _challenge(client)
    return client.post(reverse(URL_NAME), {"certificate": pem, "signature": _sign(key, challenge or shown)})


def _errors(response) -> str:
    return " ".join(response.context["form"].non_field_errors())


def _refusals():
    return list(AuditEntry.objects.filter(event=AuditEntry.Event.CERTIFICATE_REFUSED).order_by("id"))


# --- Success ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("snils_type", [_ASN1Type.NumericString, _ASN1Type.UTF8String])
def test_rsa_certificate_logs_the_worker_in(client, pki, worker, settings, snils_type):
    cert = pki.user(worker.snils, "user_rsa", snils_type=snils_type)
    response = _login(client, _pem(cert), pki.keys["user_rsa"])
    assert response.status_code == 302
    assert response["Location"] == reverse("verification:cabinet")
    assert client.session["_auth_user_id"] == str(worker.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("key_name", ["user_ec", "user_ec384"])
def test_ecdsa_certificate_through_an_intermediate_logs_the_worker_in(client, pki, worker, key_name):
    cert = pki.user(worker.snils, key_name, via_intermediate=True)
    response = _login(client, _pem(cert, pki.intermediate), pki.keys[key_name])
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(worker.pk)


@pytest.mark.django_db
def test_snils_written_with_dashes_in_the_certificate_is_accepted(pki, worker):
    formatted = f"{worker.snils[:3]}-{worker.snils[3:6]}-{worker.snils[6:9]} {worker.snils[9:]}"
    cert = pki.user(worker.snils, subject=_name("Иванова", formatted, _ASN1Type.UTF8String))
    session = {}
    signature = _sign(pki.keys["user_rsa"], challenge_issue(session=session))
    assert (
        certificate_login_verify(session=session, certificate_pem=_pem(cert), signature_b64=signature) == worker.snils
    )


@pytest.mark.django_db
def test_raw_ecdsa_signature_from_webcrypto_and_urlsafe_base64_are_accepted(pki, worker):
    cert = pki.user(worker.snils, "user_ec")
    session = {}
    challenge = challenge_issue(session=session)
    der = pki.keys["user_ec"].sign(challenge.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    signature = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert (
        certificate_login_verify(session=session, certificate_pem=_pem(cert), signature_b64=signature) == worker.snils
    )


@pytest.mark.django_db
def test_successful_login_is_journalled_with_the_certificate(client, pki, worker):
    cert = pki.user(worker.snils)
    _login(client, _pem(cert), pki.keys["user_rsa"])
    cert_entry = AuditEntry.objects.get(event=AuditEntry.Event.CERTIFICATE_LOGIN)
    assert cert_entry.subject == worker
    assert cert_entry.details["certificate"]["serial"] == format(cert.serial_number, "x")
    assert cert_entry.details["certificate"]["sha256"] == cert.fingerprint(hashes.SHA256()).hex()
    # login_complete's own entry, marked with the method.
    login_entry = AuditEntry.objects.get(event=AuditEntry.Event.LOGIN)
    assert login_entry.subject == worker
    assert login_entry.details == {"method": "certificate"}
    assert not _refusals()


@pytest.mark.django_db
def test_page_shows_a_fresh_challenge_and_both_ways_to_sign(client, pki):
    first = client.get(reverse(URL_NAME))
    second = client.get(reverse(URL_NAME))
    body = first.content.decode()
    assert first.context["challenge"] != second.context["challenge"]
    assert len(bytes.fromhex(first.context["challenge"])) == 32  # hex: never starts with "-" on a command line
    assert first.context["challenge"] in body
    assert "sign_challenge" in body and "КриптоПро" in body
    assert 'name="certificate"' in body and 'name="signature"' in body


@pytest.mark.django_db
def test_logged_in_user_is_sent_on(client, worker, settings):
    client.force_login(worker)
    response = client.get(reverse(URL_NAME))
    assert response.status_code == 302
    assert response["Location"] == reverse("verification:cabinet")


@pytest.mark.django_db
def test_certificate_login_requires_csrf_token(pki, worker):
    client = Client(enforce_csrf_checks=True)
    cert = pki.user(worker.snils)
    response = _login(client, _pem(cert), pki.keys["user_rsa"])
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


# --- Validity and trust -------------------------------------------------------------------------


@pytest.mark.django_db
def test_expired_certificate_is_refused_with_advice_to_renew_it(client, pki, worker):
    not_after = timezone.now() - 10 * DAY
    cert = pki.user(worker.snils, not_before=not_after - 365 * DAY, not_after=not_after)
    response = _login(client, _pem(cert), pki.keys["user_rsa"])
    assert response.status_code == 200
    message = _errors(response)
    assert f"истёк {timezone.localtime(not_after):%d.%m.%Y}" in message
    assert "удостоверяющий центр" in message
    assert "_auth_user_id" not in client.session
    assert _refusals()[-1].details["reason"] == "expired"


@pytest.mark.django_db
def test_not_yet_valid_certificate_is_refused(client, pki, worker):
    not_before = timezone.now() + 3 * DAY
    cert = pki.user(worker.snils, not_before=not_before, not_after=not_before + 365 * DAY)
    response = _login(client, _pem(cert), pki.keys["user_rsa"])
    assert f"начнёт действовать только {timezone.localtime(not_before):%d.%m.%Y}" in _errors(response)
    assert "_auth_user_id" not in client.session
    assert _refusals()[-1].details["reason"] == "not_yet_valid"


@pytest.mark.django_db
def test_self_signed_certificate_with_a_real_snils_is_untrusted(client, pki, worker):
    key = pki.keys["user_rsa"]
    cert = _certificate(key, _name("Иванова", worker.snils))
    response = _login(client, _pem(cert), key)
    assert "не доверяет" in _errors(response)
    assert "_auth_user_id" not in client.session
    assert _refusals()[-1].details["reason"] == "untrusted"


@pytest.mark.django_db
def test_certificate_of_another_ca_is_untrusted(client, pki, worker):
    other_root = _certificate(pki.keys["other_root"], _name("Чужой УЦ"), ca=True)
    cert = _certificate(
        pki.keys["user_ec"], _name("Иванова", worker.snils), issuer=other_root, issuer_key=pki.keys["other_root"]
    )
    response = _login(client, _pem(cert, other_root), pki.keys["user_ec"])
    assert "не доверяет" in _errors(response)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_certificate_forged_with_a_trusted_ca_name_is_untrusted(client, pki, worker):
    # Same issuer name as the trusted root, signed by another key.
    cert = _certificate(
        pki.keys["user_ec"], _name("Иванова", worker.snils), issuer=pki.root, issuer_key=pki.keys["other_root"]
    )
    _login(client, _pem(cert), pki.keys["user_ec"])
    assert _refusals()[-1].details["reason"] == "untrusted"
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_missing_intermediate_makes_the_chain_untrusted(client, pki, worker):
    cert = pki.user(worker.snils, "user_ec", via_intermediate=True)
    _login(client, _pem(cert), pki.keys["user_ec"])
    assert _refusals()[-1].details["reason"] == "untrusted"


@pytest.mark.django_db
def test_expired_issuing_ca_makes_a_current_certificate_untrusted(client, pki, worker):
    now = timezone.now()
    old_intermediate = _certificate(
        pki.keys["intermediate"],
        _name("Тестовый УЦ второго уровня"),
        issuer=pki.root,
        issuer_key=pki.keys["root"],
        ca=True,
        not_before=now - 800 * DAY,
        not_after=now - 5 * DAY,
    )
    cert = _certificate(
        pki.keys["user_ec"],
        _name("Иванова", worker.snils),
        issuer=old_intermediate,
        issuer_key=pki.keys["intermediate"],
        not_before=now - 30 * DAY,
        not_after=now + 300 * DAY,
    )
    response = _login(client, _pem(cert, old_intermediate), pki.keys["user_ec"])
    assert "не доверяет" in _errors(response)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_expired_certificate_of_an_untrusted_ca_is_called_untrusted(client, pki, worker):
    key = pki.keys["user_rsa"]
    cert = _certificate(
        key, _name("Иванова", worker.snils), not_before=timezone.now() - 400 * DAY, not_after=timezone.now() - DAY
    )
    _login(client, _pem(cert), key)
    assert _refusals()[-1].details["reason"] == "untrusted"


@pytest.mark.django_db
def test_no_trusted_ca_configured_refuses_everything(client, pki, worker, settings, tmp_path):
    settings.TRUSTED_CA_CERTIFICATES_DIR = tmp_path / "does-not-exist"
    _login(client, _pem(pki.user(worker.snils)), pki.keys["user_rsa"])
    assert _refusals()[-1].details["reason"] == "untrusted"
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_unreadable_file_in_the_trusted_directory_is_skipped(client, pki, worker):
    (pki.trusted_dir / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    (pki.trusted_dir / "notes.txt").write_text("ignored")
    response = _login(client, _pem(pki.user(worker.snils)), pki.keys["user_rsa"])
    assert response.status_code == 302


@pytest.mark.django_db
def test_certificate_without_digital_signature_key_usage_is_refused(client, pki, worker):
    cert = pki.user(worker.snils, key_usage=_key_usage(key_encipherment=True))
    response = _login(client, _pem(cert), pki.keys["user_rsa"])
    assert "цифровая подпись" in _errors(response)
    assert _refusals()[-1].details["reason"] == "key_usage"


@pytest.mark.django_db
def test_certificate_not_meant_for_client_authentication_is_refused(client, pki, worker):
    cert = pki.user(worker.snils, eku=[ExtendedKeyUsageOID.CODE_SIGNING])
    response = _login(client, _pem(cert), pki.keys["user_rsa"])
    assert "проверки подлинности клиента" in _errors(response)
    assert _refusals()[-1].details["reason"] == "client_auth"


# --- SNILS and the account ----------------------------------------------------------------------


@pytest.mark.django_db
def test_certificate_for_a_snils_without_account_is_refused(client, pki, worker):
    stranger = snils_from_number(987_654_321)
    cert = pki.user(stranger)
    response = _login(client, _pem(cert), pki.keys["user_rsa"])
    assert "не найдена" in _errors(response)
    assert "_auth_user_id" not in client.session
    refusal = _refusals()[-1]
    assert refusal.details["reason"] == "unknown_user"
    assert refusal.subject is None
    # The journal identifies the certificate, not the SNILS typed into nothing.
    assert stranger not in str(refusal.details)


@pytest.mark.django_db
@pytest.mark.parametrize("snils", [None, "112-233-445 96", "1234"])
def test_certificate_without_a_valid_snils_is_refused(client, pki, snils):
    cert = pki.user("", subject=_name("ООО Ромашка", snils, _ASN1Type.UTF8String) if snils else _name("ООО Ромашка"))
    response = _login(client, _pem(cert), pki.keys["user_rsa"])
    assert "1.2.643.100.3" in _errors(response)
    assert _refusals()[-1].details["reason"] == "no_snils"


@pytest.mark.django_db
def test_blocked_account_is_refused(client, pki):
    user = UserFactory(is_active=False)
    response = _login(client, _pem(pki.user(user.snils)), pki.keys["user_rsa"])
    assert "заблокирована" in _errors(response)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_certificate_of_one_worker_does_not_log_in_another(client, pki, worker):
    other = UserFactory()
    response = _login(client, _pem(pki.user(other.snils)), pki.keys["user_rsa"])
    assert client.session["_auth_user_id"] == str(other.pk) != str(worker.pk)
    assert response.status_code == 302


# --- Signature and challenge --------------------------------------------------------------------


@pytest.mark.django_db
def test_signature_over_another_challenge_is_refused(client, pki, worker):
    cert = pki.user(worker.snils)
    response = _login(client, _pem(cert), pki.keys["user_rsa"], challenge="another-challenge")
    assert "Подпись не соответствует" in _errors(response)
    assert "_auth_user_id" not in client.session
    refusal = _refusals()[-1]
    assert refusal.details["reason"] == "bad_signature"
    assert refusal.subject == worker  # the owner sees the attempt in their journal


@pytest.mark.django_db
def test_signature_by_another_key_is_refused(client, pki, worker):
    cert = pki.user(worker.snils, "user_rsa")
    _login(client, _pem(cert), pki.keys["user_ec"])
    assert _refusals()[-1].details["reason"] == "bad_signature"
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_replayed_post_of_a_used_challenge_is_refused(client, pki, worker):
    cert = pki.user(worker.snils)
    challenge = _challenge(client)
    data = {"certificate": _pem(cert), "signature": _sign(pki.keys["user_rsa"], challenge)}
    assert client.post(reverse(URL_NAME), data).status_code == 302
    client.post(reverse("accounts:logout"))
    replay = client.post(reverse(URL_NAME), data)
    assert replay.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_challenge_is_single_use_even_after_a_failure(pki, worker):
    cert = _pem(pki.user(worker.snils))
    session = {}
    challenge = challenge_issue(session=session)
    with pytest.raises(CertificateError) as first:
        certificate_login_verify(session=session, certificate_pem=cert, signature_b64="AAAA")
    assert first.value.code == "bad_signature"
    assert certificates.CHALLENGE_SESSION_KEY not in session
    with pytest.raises(CertificateError) as second:
        certificate_login_verify(
            session=session, certificate_pem=cert, signature_b64=_sign(pki.keys["user_rsa"], challenge)
        )
    assert second.value.code == "no_challenge"


@pytest.mark.django_db
def test_a_copy_of_the_session_cannot_use_the_challenge_twice(pki, worker):
    # Two concurrent requests with the same session cookie both load the nonce before either
    # saves the session; only one of them may use it.
    cert = _pem(pki.user(worker.snils))
    session = {}
    signature = _sign(pki.keys["user_rsa"], challenge_issue(session=session))
    racing = dict(session)
    assert certificate_login_verify(session=session, certificate_pem=cert, signature_b64=signature) == worker.snils
    with pytest.raises(CertificateError) as exc:
        certificate_login_verify(session=racing, certificate_pem=cert, signature_b64=signature)
    assert exc.value.code == "no_challenge"


@pytest.mark.django_db
def test_challenge_expires_after_five_minutes(pki, worker):
    cert = _pem(pki.user(worker.snils))
    session = {}
    issued = timezone.now()
    signature = _sign(pki.keys["user_rsa"], challenge_issue(session=session, now=issued))
    with pytest.raises(CertificateError) as exc:
        certificate_login_verify(
            session=session,
            certificate_pem=cert,
            signature_b64=signature,
            now=issued + dt.timedelta(minutes=5, seconds=1),
        )
    assert exc.value.code == "challenge_expired"


@pytest.mark.django_db
def test_post_without_a_challenge_is_refused(client, pki, worker):
    cert = pki.user(worker.snils)
    response = client.post(reverse(URL_NAME), {"certificate": _pem(cert), "signature": "AAAA"})
    assert response.status_code == 200
    assert "не найден или уже использован" in _errors(response)
    assert response.context["challenge"]  # and a new one to sign


# --- Hostile and malformed input ----------------------------------------------------------------


def _truncated_pem(pki) -> str:
    pem = _pem(pki.root)
    return pem[: len(pem) // 2] + "\n-----END CERTIFICATE-----\n"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "certificate",
    [
        "not a certificate",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "Сертификат: ключ ✓ \u202e",
        "' OR 1=1; DROP TABLE accounts_user; --",
        "<script>alert(1)</script>",
        "truncated",
    ],
)
def test_garbage_certificate_is_a_form_error(client, pki, worker, certificate):
    if certificate == "truncated":
        certificate = _truncated_pem(pki)
    _challenge(client)
    response = client.post(reverse(URL_NAME), {"certificate": certificate, "signature": "AAAA"})
    assert response.status_code == 200
    assert "Не удалось прочитать сертификат" in _errors(response)
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert _refusals()[-1].details["reason"] == "bad_format"


@pytest.mark.django_db
def test_corrupted_certificates_are_refused_without_crashing(pki, worker):
    """Random byte edits of a valid chain (an invalid X.509 version among them): whatever the
    damage, the answer is a CertificateError, never another exception (a 500 on the page)."""
    leaf = pki.user(worker.snils, "user_ec", via_intermediate=True)
    chain = [leaf.public_bytes(serialization.Encoding.DER), pki.intermediate.public_bytes(serialization.Encoding.DER)]
    # The version field is the first element of the TBS: a0 03 02 01 02 -> version 122.
    bad_version = chain[0].replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x7a", 1)
    variants = [[bad_version, chain[1]]]
    rnd = random.Random(20240917)
    for _ in range(400):
        damaged = [bytearray(der) for der in chain]
        target = damaged[rnd.randrange(2)]
        for _ in range(rnd.randint(1, 3)):
            pos, value, edit = rnd.randrange(len(target)), rnd.randrange(256), rnd.randrange(3)
            if edit == 0:
                target[pos] = value
            elif edit == 1:
                del target[pos]
            else:
                target.insert(pos, value)
        variants.append(damaged)
    codes = set()
    for ders in variants:
        pem = "".join(
            "-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(bytes(d)).decode() + "-----END CERTIFICATE-----\n"
            for d in ders
        )
        session = {}
        signature = _sign(pki.keys["user_ec"], challenge_issue(session=session))
        try:
            certificate_login_verify(session=session, certificate_pem=pem, signature_b64=signature)
        except CertificateError as exc:
            codes.add(exc.code)
    assert {"bad_format", "untrusted"} <= codes


@pytest.mark.django_db
@pytest.mark.parametrize("signature", ["не base64", "AAA=A", "====", "%%%%"])
def test_garbage_signature_is_a_form_error(client, pki, worker, signature):
    _challenge(client)
    response = client.post(reverse(URL_NAME), {"certificate": _pem(pki.user(worker.snils)), "signature": signature})
    assert response.status_code == 200
    assert "подпись в кодировке base64" in _errors(response)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "size"), [("certificate", 3 * 1024 * 1024), ("signature", 3 * 1024 * 1024), ("signature", 2_001)]
)
def test_oversized_input_is_a_form_error_and_is_not_echoed(client, pki, worker, field, size):
    _challenge(client)
    data = {"certificate": _pem(pki.user(worker.snils)), "signature": "AAAA", field: "A" * size}
    response = client.post(reverse(URL_NAME), data)
    assert response.status_code == 200
    assert "слишком длинн" in " ".join(response.context["form"].errors[field])
    assert len(response.content) < 100_000
    assert _refusals()[-1].details["reason"] == "bad_format"
    assert response.context["challenge"]


@pytest.mark.django_db
def test_empty_form_is_a_form_error(client, pki):
    _challenge(client)
    response = client.post(reverse(URL_NAME), {})
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"certificate", "signature"}


@pytest.mark.django_db
def test_null_bytes_are_a_form_error(client, pki, worker):
    _challenge(client)
    response = client.post(reverse(URL_NAME), {"certificate": "-----BEGIN\x00", "signature": "AA\x00"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_pasted_private_key_is_refused_and_not_echoed(client, pki, worker):
    key_pem = (
        pki.keys["user_ec"]
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    _challenge(client)
    response = client.post(reverse(URL_NAME), {"certificate": key_pem, "signature": "AAAA"})
    assert "закрытый ключ" in _errors(response)
    assert key_pem.splitlines()[1] not in response.content.decode()


@pytest.mark.django_db
def test_too_many_certificates_in_the_bundle_is_bad_format(pki, worker):
    session = {}
    challenge_issue(session=session)
    with pytest.raises(CertificateError) as exc:
        certificate_login_verify(session=session, certificate_pem=_pem(*[pki.intermediate] * 6), signature_b64="AAAA")
    assert exc.value.code == "bad_format"


# --- Unsupported algorithms (the GOST extension point) ------------------------------------------


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(p) for p in dotted.split("."))
    body = bytearray([first * 40 + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _der(0x06, bytes(body))


def _gost_certificate_pem(snils: str) -> str:
    """A certificate with a GOST R 34.10-2012 key, built by hand: `cryptography` cannot make one."""
    seq = lambda *parts: _der(0x30, b"".join(parts))  # noqa: E731
    signature_algorithm = seq(_oid("1.2.643.7.1.1.3.2"))
    now = timezone.now()
    validity = seq(
        _der(0x17, f"{now - DAY:%y%m%d%H%M%S}Z".encode()), _der(0x17, f"{now + 365 * DAY:%y%m%d%H%M%S}Z".encode())
    )
    public_key = seq(
        seq(_oid("1.2.643.7.1.1.1.1"), seq(_oid("1.2.643.7.1.2.1.1.1"), _oid("1.2.643.7.1.1.2.2"))),
        _der(0x03, b"\x00" + _der(0x04, bytes(range(64)))),
    )
    tbs = seq(
        _der(0xA0, _der(0x02, b"\x02")),
        _der(0x02, b"\x01\x23\x45\x67"),
        signature_algorithm,
        _name("УЦ ГОСТ").public_bytes(),
        validity,
        _name("Иванова", snils).public_bytes(),
        public_key,
    )
    der = seq(tbs, signature_algorithm, _der(0x03, b"\x00" + bytes(64)))
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


@pytest.mark.django_db
def test_gost_certificate_gets_a_clear_unsupported_algorithm_error(client, pki, worker):
    _challenge(client)
    response = client.post(reverse(URL_NAME), {"certificate": _gost_certificate_pem(worker.snils), "signature": "AAAA"})
    assert response.status_code == 200
    assert "ГОСТ Р 34.10-2012" in _errors(response)
    assert _refusals()[-1].details["reason"] == "unsupported_algorithm"


@pytest.mark.django_db
def test_other_key_algorithms_are_unsupported(pki, worker):
    key = ed25519.Ed25519PrivateKey.generate()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Иванова", worker.snils))
        .issuer_name(_name("Иванова", worker.snils))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(timezone.now() - DAY)
        .not_valid_after(timezone.now() + DAY)
        .sign(key, None)
    )
    session = {}
    signature = base64.b64encode(key.sign(challenge_issue(session=session).encode())).decode()
    with pytest.raises(CertificateError) as exc:
        certificate_login_verify(session=session, certificate_pem=_pem(cert), signature_b64=signature)
    assert exc.value.code == "unsupported_algorithm"


@pytest.mark.django_db
def test_short_rsa_key_is_unsupported(pki, worker):
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the weak key under test
    cert = _certificate(key, _name("Иванова", worker.snils), issuer=pki.root, issuer_key=pki.keys["root"])
    session = {}
    signature = _sign(key, challenge_issue(session=session))
    with pytest.raises(CertificateError) as exc:
        certificate_login_verify(session=session, certificate_pem=_pem(cert), signature_b64=signature)
    assert exc.value.code == "unsupported_algorithm"


# --- Lockout ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_failed_certificate_logins_lock_the_snils_like_wrong_passwords(client, pki, worker):
    cert = _pem(pki.user(worker.snils))
    for _ in range(5):
        _login(client, cert, pki.keys["user_ec"])  # wrong key: bad signature
    assert AuditEntry.objects.filter(event=AuditEntry.Event.LOCKOUT, subject=worker).exists()
    # Now even the right key is refused, and the password form says the same.
    response = _login(client, cert, pki.keys["user_rsa"])
    assert response.status_code == 200
    assert "заблокирован" in _errors(response)
    assert response.context["error_code"] == "locked"
    assert "_auth_user_id" not in client.session
    assert _refusals()[-1].details["reason"] == "locked"
    password = Client().post(
        reverse("accounts:login"),
        {"kind": "worker", "username": worker.snils, "password": "correct-horse-battery-staple"},
    )
    assert password.status_code == 200
    assert "заблокирован" in password.content.decode()


@pytest.mark.django_db
def test_successful_certificate_login_resets_the_failure_count(client, pki, worker):
    from accounts.models import LoginThrottle
    from accounts.services import login_key

    cert = _pem(pki.user(worker.snils))
    for _ in range(3):
        _login(client, cert, pki.keys["user_ec"])
    assert LoginThrottle.objects.get(key=login_key(worker.snils)).failures == 3
    assert _login(client, cert, pki.keys["user_rsa"]).status_code == 302
    assert LoginThrottle.objects.get(key=login_key(worker.snils)).failures == 0


# --- Development signer -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("key_type", ["ec", "rsa"])
def test_demo_ca_and_sign_challenge_command_produce_a_working_login(client, settings, tmp_path, worker, key_type):
    settings.TRUSTED_CA_CERTIFICATES_DIR = tmp_path / "trusted"
    out = io.StringIO()
    call_command(
        "sign_challenge",
        "--make-demo-ca",
        str(tmp_path / "demo"),
        "--snils",
        worker.snils,
        "--key-type",
        key_type,
        stdout=out,
    )
    cert_path = tmp_path / "demo" / f"user-{worker.snils}.pem"
    key_path = tmp_path / "demo" / f"user-{worker.snils}-key.pem"
    assert str(cert_path) in out.getvalue() and str(key_path) in out.getvalue()
    assert (tmp_path / "trusted" / "medreg-demo-ca.pem").exists()
    assert key_path.stat().st_mode & 0o077 == 0

    challenge = _challenge(client)
    signed = io.StringIO()
    call_command("sign_challenge", "--key", str(key_path), "--challenge", challenge, stdout=signed)
    response = client.post(
        reverse(URL_NAME), {"certificate": cert_path.read_text(), "signature": signed.getvalue().strip()}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(worker.pk)


@pytest.mark.django_db
def test_demo_ca_is_reused_by_a_second_run(settings, tmp_path):
    settings.TRUSTED_CA_CERTIFICATES_DIR = tmp_path / "trusted"
    for snils in ("112-233-445 95", snils_from_number(200_000_000)):
        call_command("sign_challenge", "--make-demo-ca", str(tmp_path / "demo"), "--snils", snils, stdout=io.StringIO())
    assert [p.name for p in (tmp_path / "trusted").iterdir()] == ["medreg-demo-ca.pem"]
    ca = x509.load_pem_x509_certificate((tmp_path / "trusted" / "medreg-demo-ca.pem").read_bytes())
    first = x509.load_pem_x509_certificate((tmp_path / "demo" / "user-11223344595.pem").read_bytes())
    first.verify_directly_issued_by(ca)


def test_demo_ca_is_refused_in_production(settings, tmp_path):
    settings.PRODUCTION = True
    settings.TRUSTED_CA_CERTIFICATES_DIR = tmp_path / "trusted"
    with pytest.raises(CommandError, match="продуктиве"):
        call_command("sign_challenge", "--make-demo-ca", str(tmp_path / "demo"), "--snils", "112-233-445 95")
    assert not (tmp_path / "trusted").exists()


def test_sign_challenge_command_reports_bad_input(tmp_path):
    with pytest.raises(CommandError):
        call_command("sign_challenge")
    with pytest.raises(CommandError, match="Не удалось прочитать ключ"):
        call_command("sign_challenge", "--key", str(tmp_path / "missing.pem"), "--challenge", "x")
    (tmp_path / "cert.pem").write_text("not a key")
    with pytest.raises(CommandError, match="не закрытый ключ"):
        call_command("sign_challenge", "--key", str(tmp_path / "cert.pem"), "--challenge", "x")
    with pytest.raises(CommandError, match="СНИЛС"):
        call_command("sign_challenge", "--make-demo-ca", str(tmp_path / "demo"), "--snils", "112-233-445 96")
