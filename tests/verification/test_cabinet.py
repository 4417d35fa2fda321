"""The cabinet pages: the record as the registry holds it, expiring documents, CME progress,
uploads refused with a clear message naming the field, another user's objects are 404, the
journal shows changed fields and staff reads, and the page's query count is bounded."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import Notification
from core.models import AuditEntry
from registry.models import AdmissionDocument, ContinuingEducation
from tests.verification.conftest import identity_files, identity_input, pdf_bytes, png_bytes
from verification import selectors, services
from verification.models import ChangeRequest, IdentityApplication

pytestmark = pytest.mark.django_db


def _identity_post(worker, **overrides):
    data = {
        "snils": worker.snils_display,
        "inn": worker.inn,
        "last_name": worker.last_name,
        "first_name": worker.first_name,
        "middle_name": worker.middle_name,
        "birth_date": worker.birth_date.isoformat(),
    }
    data.update(overrides)
    return data


def test_cabinet_requires_login(client):
    response = client.get("/cabinet/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_cabinet_shows_record_expiring_document_and_cme_progress(client, worker, settings):
    settings.CME_REQUIRED_HOURS = 100
    today = timezone.localdate()
    AdmissionDocument.objects.filter(worker=worker).update(
        valid_until=today + dt.timedelta(days=40), issued_on=today - dt.timedelta(days=1500)
    )
    for hours in (36, 18):
        ContinuingEducation.objects.create(
            worker=worker, topic="Тема", completed_on=today - dt.timedelta(days=30), hours=hours
        )
    ContinuingEducation.objects.create(
        worker=worker, topic="Старое", completed_on=today - dt.timedelta(days=2000), hours=500
    )
    client.force_login(worker.user)
    page = client.get("/cabinet/").content.decode()
    assert worker.snils_display in page and worker.inn in page  # protected data, shown to the owner only
    assert "data-expiring" in page and "осталось 40 дн." in page
    assert "data-cme-hours>54<" in page
    assert "не хватает 46 ч" in page
    assert 'href="/extracts/registry.pdf"' in page and 'href="/extracts/qualification.pdf"' in page


def test_cme_requirement_defaults_to_144_hours(settings):
    assert settings.CME_REQUIRED_HOURS == 144


def test_cabinet_query_count_does_not_grow_with_records(client, worker, django_assert_max_num_queries):
    client.force_login(worker.user)
    for i in range(15):
        ContinuingEducation.objects.create(worker=worker, topic=f"Тема {i}", completed_on=timezone.localdate(), hours=1)
        Notification.objects.create(user=worker.user, kind="x", title=f"Уведомление {i}", body="…")
    with django_assert_max_num_queries(24):
        assert client.get("/cabinet/").status_code == 200


def test_staff_without_record_sees_an_explanation(client, support_agent):
    client.force_login(support_agent)
    assert "не связана с записью" in client.get("/cabinet/").content.decode()


def test_identity_form_submits_and_checks(client, worker, on_commit_immediate):
    client.force_login(worker.user)
    data = _identity_post(worker, inn="500100732259")
    response = client.post("/cabinet/identity/", {**data, **identity_files()})
    application = IdentityApplication.objects.get()
    assert response.status_code == 302
    page = client.get(reverse("verification:identity_detail", args=[application.pk])).content.decode()
    assert "Отклонено" in page and "ИНН: такой ИНН не найден" in page
    # Fix: the form comes pre-filled with the rejected data and says what was wrong.
    form_page = client.get("/cabinet/identity/").content.decode()
    assert "Исправление заявления" in form_page and "500100732259" in form_page
    response = client.post("/cabinet/identity/", _identity_post(worker))
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == "confirmed"
    assert "Подтверждено" in client.get("/cabinet/").content.decode()


BAD_UPLOADS = [
    ("wrong type", b"GIF89a" + b"\0" * 100, "image/gif", "допустимы только"),
    ("html", b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", "text/html", "допустимы только"),
    (
        "svg",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "image/svg+xml",
        "допустимы только",
    ),
    ("polyglot pdf/html", None, "application/pdf", "посторонние данные"),
    ("polyglot png/html", png_bytes() + b"<html><script>alert(1)</script></html>", "image/png", "посторонние данные"),
    ("corrupt image", png_bytes()[:200], "image/png", "повреждён или не читается"),
    ("empty", b"", "application/pdf", "Паспорт (страница с фотографией): файл пустой."),
    ("oversized", None, "application/pdf", "больше 10 МБ"),
]


@pytest.mark.parametrize(("case", "data", "content_type", "fragment"), BAD_UPLOADS, ids=[c[0] for c in BAD_UPLOADS])
def test_bad_upload_is_refused_naming_the_field(client, worker, case, data, content_type, fragment):
    if case == "polyglot pdf/html":
        pdf = pdf_bytes()
        data = pdf[:9] + b"<html><script>alert(1)</script></html>\n" + pdf[9:]
    if case == "oversized":
        data = b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024)
    client.force_login(worker.user)
    files = identity_files()
    files["passport_document"] = SimpleUploadedFile("passport.pdf", data, content_type=content_type)
    response = client.post("/cabinet/identity/", {**_identity_post(worker), **files})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Паспорт (страница с фотографией)" in page
    assert fragment in page
    assert not IdentityApplication.objects.exists()
    # Nothing half-stored: the good file of the same form is not kept either.
    from verification.models import StoredDocument

    assert not StoredDocument.objects.exists()


def test_invalid_identifiers_get_russian_errors_naming_the_field(client, worker):
    client.force_login(worker.user)
    page = client.post(
        "/cabinet/identity/", {**_identity_post(worker, inn="123456789037", snils="123"), **identity_files()}
    ).content.decode()
    assert "ИНН" in page and "СНИЛС" in page
    assert not IdentityApplication.objects.exists()


# --- Another user's objects -----------------------------------------------------------------------


@pytest.fixture
def others(second_worker_user):
    from tests.verification.conftest import reference_for

    worker = second_worker_user.worker
    reference_for(worker)
    application = services.identity_application_submit(
        user=second_worker_user, data=identity_input(worker), files=identity_files()
    )
    worker.identity_status = "confirmed"
    worker.save()
    change = services.change_request_submit(
        user=second_worker_user,
        new_values={"phone": "+79161112233"},
        proof=SimpleUploadedFile("proof.png", png_bytes(), content_type="image/png"),
    )
    entry = AuditEntry.objects.filter(subject=second_worker_user).first()
    return {"application": application, "change": change, "entry": entry}


def test_another_users_document_application_change_and_journal_are_404(client, worker, others):
    client.force_login(worker.user)
    urls = [
        reverse("verification:identity_detail", args=[others["application"].pk]),
        reverse("verification:document", args=[others["application"].passport_document_id]),
        reverse("verification:correction_detail", args=[others["change"].pk]),
        reverse("verification:document", args=[others["change"].proof_document_id]),
        reverse("accounts:journal_entry", args=[others["entry"].pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert "Сотрудник" not in client.get("/accounts/journal/").content.decode()


def test_owner_downloads_own_document_as_attachment_with_nosniff(client, second_worker_user, others):
    client.force_login(second_worker_user)
    response = client.get(reverse("verification:document", args=[others["application"].passport_document_id]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_staff_download_is_in_the_owners_journal(client, support_agent, second_worker_user, others):
    client.force_login(support_agent)
    document_id = others["application"].passport_document_id
    assert client.get(reverse("verification:document", args=[document_id])).status_code == 200
    entry = AuditEntry.objects.get(subject=second_worker_user, event=AuditEntry.Event.DATA_VIEWED)
    assert entry.actor == support_agent and entry.ip == "127.0.0.1"
    client.force_login(second_worker_user)
    journal = client.get("/accounts/journal/").content.decode()
    assert f"Сотрудник {support_agent.username}" in journal
    assert "загруженный документ" in journal


# --- Corrections ----------------------------------------------------------------------------------


def _correction_post(worker, **overrides):
    values = selectors.worker_editable_values(worker=worker)
    data = {k: ("" if v is None else v) for k, v in values.items()}
    data["registry_number"] = worker.registry_number
    data["admission_valid_until"] = values["admission_valid_until"].isoformat()
    data.update(overrides)
    return data


def test_correction_needs_confirmed_identity(client, worker):
    client.force_login(worker.user)
    assert client.get("/cabinet/correction/")["Location"] == "/cabinet/identity/"


def test_correction_shows_difference_then_sends_for_review(client, confirmed_worker, support_agent):
    worker = confirmed_worker
    client.force_login(worker.user)
    preview = client.post("/cabinet/correction/", {**_correction_post(worker, last_name="Новикова"), "step": "preview"})
    page = preview.content.decode()
    assert "data-diff" in page and "Новикова" in page and worker.last_name in page
    assert not ChangeRequest.objects.exists()
    response = client.post(
        "/cabinet/correction/",
        {
            **_correction_post(worker, last_name="Новикова"),
            "step": "submit",
            "proof": SimpleUploadedFile("marriage.pdf", pdf_bytes(), content_type="application/pdf"),
        },
    )
    change = ChangeRequest.objects.get()
    assert response["Location"] == reverse("verification:correction_detail", args=[change.pk])
    assert list(change.changes) == ["last_name"]
    services.change_request_approve(change_request=change, actor=support_agent)
    worker.refresh_from_db()
    assert worker.last_name == "Новикова" and worker.search_name.startswith("новикова")
    page = client.get("/cabinet/").content.decode()
    assert "Актуализировано" in page
    journal = client.get("/accounts/journal/").content.decode()
    assert "поля: фамилия" in journal


def test_unchanged_form_is_refused(client, confirmed_worker):
    client.force_login(confirmed_worker.user)
    page = client.post("/cabinet/correction/", {**_correction_post(confirmed_worker), "step": "preview"})
    assert "ничего не изменили" in page.content.decode()


def test_bad_ogrn_and_phone_are_refused_naming_the_field(client, confirmed_worker):
    client.force_login(confirmed_worker.user)
    page = client.post(
        "/cabinet/correction/",
        {**_correction_post(confirmed_worker, organization="1027700000000", phone="12345"), "step": "preview"},
    )
    text = page.content.decode()
    assert "Место работы" in text and "Телефон" in text


# --- Notifications ------------------------------------------------------------------------------------


def test_important_notification_goes_to_cabinet_email_and_sms(worker, settings, on_commit_immediate, mailoutbox):
    from accounts.models import SmsOutbox

    settings.SMS_BACKEND = "accounts.sms.DatabaseBackend"
    user = worker.user
    user.email, user.phone, user.phone_confirmed_at = "w@example.org", "+79161234567", timezone.now()
    user.save()
    application = services.identity_application_submit(
        user=user, data=identity_input(worker, inn="500100732259"), files=identity_files()
    )
    application.refresh_from_db()
    assert application.status == "rejected"
    note = Notification.objects.get(user=user, kind="identity_rejected")
    assert note.important and "ИНН" in note.body
    assert any("отклонено" in m.subject and "ИНН: такой ИНН не найден" in m.body for m in mailoutbox)
    sms = SmsOutbox.objects.get(phone="+79161234567")
    assert f"заявление № {application.pk} отклонено" in sms.text


def test_notifications_page_marks_read(client, worker):
    Notification.objects.create(user=worker.user, kind="x", title="Проверка", body="Текст")
    client.force_login(worker.user)
    assert "(не прочитано)" in client.get("/cabinet/notifications/").content.decode()
    client.post("/cabinet/notifications/")
    assert "(не прочитано)" not in client.get("/cabinet/notifications/").content.decode()


def test_review_queue_query_count_is_bounded(client, support_agent, confirmed_worker, django_assert_max_num_queries):
    from tests.factories import UserFactory, WorkerFactory

    support_agent.is_superuser = True
    support_agent.save()
    for _ in range(12):
        user = UserFactory()
        other = WorkerFactory(user=user, snils=user.snils, identity_status="confirmed")
        services.change_request_submit(
            user=user,
            new_values={"phone": "+79161112233"},
            proof=SimpleUploadedFile("p.png", png_bytes(), content_type="image/png"),
        )
        assert other.pk
    client.force_login(support_agent)
    with django_assert_max_num_queries(12):
        assert client.get("/admin/verification/changerequest/").status_code == 200


def test_owner_opens_own_journal_entry_with_changed_fields(client, confirmed_worker):
    services.change_request_submit(
        user=confirmed_worker.user,
        new_values={"phone": "+79161112233"},
        proof=SimpleUploadedFile("p.png", png_bytes(), content_type="image/png"),
    )
    entry = AuditEntry.objects.get(subject=confirmed_worker.user, details__action="change_requested")
    client.force_login(confirmed_worker.user)
    page = client.get(reverse("accounts:journal_entry", args=[entry.pk])).content.decode()
    assert "Отправлена заявка на исправление сведений; поля: телефон" in page


def test_open_application_page_polls_for_its_status_and_a_decided_one_does_not(client, worker):
    application = services.identity_application_submit(
        user=worker.user, data=identity_input(worker), files=identity_files()
    )
    client.force_login(worker.user)
    url = reverse("verification:identity_detail", args=[application.pk])
    assert 'hx-trigger="every 5s"' in client.get(url).content.decode()
    services.identity_application_check(application_id=application.pk)
    page = client.get(url).content.decode()
    assert "Подтверждено" in page and "hx-trigger" not in page
