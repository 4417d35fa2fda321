"""Every e-mail the project sends has a text and an HTML part with the same text, user data escaped
in the HTML and left as written in the text."""

import datetime as dt
import html
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from accounts import emails, outbox
from accounts.notifications import notification_send
from orgs.forecast import Forecast, LicenseRow
from tests.factories import UserFactory

HOSTILE = 'Анна <script>alert(1)</script> & "Ко"'
TEMPLATES = Path(settings.BASE_DIR) / "templates"
LINK = "https://medreg.example/cabinet/?a=1&b=2"

_worker = SimpleNamespace(first_name=HOSTILE)
_application = SimpleNamespace(pk=42, fix_deadline=dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC))
_document = SimpleNamespace(
    get_kind_display=lambda: "Свидетельство об аккредитации", number="A-1", specialty=HOSTILE,
    valid_until=dt.date(2026, 8, 1),
)  # fmt: skip
_ticket = SimpleNamespace(number="SUP-2026-000001", get_status_display=lambda: "В работе")
_named = SimpleNamespace(name=HOSTILE, full_name=HOSTILE)
_employment = {
    "worker": _worker,
    "organization": SimpleNamespace(short_name=HOSTILE, ogrn="1027700132195"),
    "employment": SimpleNamespace(
        position=_named, department=HOSTILE, rate=Decimal("0.50"), get_kind_display=lambda: "Внешнее совместительство",
        started_on=dt.date(2026, 3, 2), ended_on=dt.date(2026, 3, 31), dismissal_reason=HOSTILE,
    ),
}  # fmt: skip
# The digest's forecast as orgs.forecast builds it: more rows than the e-mail lists, and one licence
# that needs attention next to one that does not.
_forecast = Forecast(
    today=dt.date(2026, 3, 2),
    expiring=[SimpleNamespace(worker=_named, specialty=_named, get_kind_display=lambda: "Сертификат специалиста",
                              valid_until=dt.date(2026, 3, 20), days_left=18)],
    expiring_total=4, soon_total=1,
    expired=[SimpleNamespace(worker=_named, position=_named, specialty=_named, document_until=dt.date(2026, 2, 1))],
    expired_total=2,
    licenses=[
        LicenseRow(license=SimpleNamespace(number=HOSTILE, status="suspended", valid_until=dt.date(2026, 1, 1),
                                           get_status_display=lambda: "Приостановлена"), expired=True, expiring=False),
        LicenseRow(license=SimpleNamespace(number="Л041-00110-77/00000001", status="active", valid_until=None,
                                           get_status_display=lambda: "Действующая"), expired=False, expiring=False),
    ],
)  # fmt: skip

# A sample context for every e-mail kind (templates/<app>/emails/<name>_subject.txt).
SAMPLES = {
    "accounts/emails/lockout": {"locked_until": timezone.now()},
    "accounts/emails/password_changed": {},
    "accounts/emails/password_restored": {},
    "accounts/emails/password_reset": {"link": LINK, "hours": 72},
    "verification/emails/admission_expiring": {"worker": _worker, "document": _document, "days_left": 30},
    "verification/emails/change_approved": {
        "worker": _worker,
        "change": SimpleNamespace(pk=7, changes={"last_name": {"label": "Фамилия", "old": "Ким", "new": HOSTILE}}),
    },
    "verification/emails/change_rejected": {
        "worker": _worker,
        "change": SimpleNamespace(pk=7, reject_reason=HOSTILE),
    },
    "verification/emails/identity_confirmed": {"worker": _worker, "application": _application},
    "verification/emails/identity_expired": {"worker": _worker, "application": _application},
    "verification/emails/identity_rejected": {
        "worker": _worker,
        "application": _application,
        "discrepancies": [{"message": "ИНН не совпадает", "entered": HOSTILE}, {"message": "СНИЛС", "entered": ""}],
    },
    "verification/emails/qualification_closed": {"worker": _worker, "application": _application},
    "verification/emails/qualification_confirmed": {"worker": _worker, "application": _application},
    "verification/emails/qualification_escalated": {"worker": _worker, "application": _application},
    "verification/emails/qualification_needs_fix": {
        "worker": _worker,
        "application": _application,
        "problems": [{"message": HOSTILE}, {"message": "Нет диплома"}],
    },
    "support/emails/ticket_created": {"ticket": _ticket},
    "support/emails/ticket_status": {"ticket": _ticket},
    "support/emails/ticket_reply": {"ticket": _ticket, "link": LINK},
    "registry/emails/saved_digest": {
        "today": dt.date(2026, 3, 2),
        "searches": [{"name": HOSTILE, "total": 5, "names": ["Иванова Анна", HOSTILE], "more": 3, "url": LINK}],
        "statuses": [{"name": HOSTILE, "old": "Действует", "new": "Приостановлен", "url": LINK}],
        "settings_url": LINK,
    },
    "registry/emails/discrepancy_digest": {
        "total": 3,
        "counts": [("Запись исчезла из источника", 2), (HOSTILE, 1)],
        "first": [HOSTILE, "Второе"],
    },
    "orgs/emails/employment_hired": _employment,
    "orgs/emails/employment_transferred": _employment,
    "orgs/emails/employment_rate_changed": _employment,
    "orgs/emails/employment_dismissed": _employment,
    "orgs/emails/expiry_digest": {
        "organization": SimpleNamespace(short_name=HOSTILE, ogrn="1027700132195"),
        "forecast": _forecast,
        "horizon": 90,
        "soon": 30,
        "link": LINK,
    },
}

BLOCKS = {"p", "br", "li", "ul", "ol", "tr", "td", "th", "table", "h1", "h2", "h3", "div"}


class _Visible(HTMLParser):
    """The text a reader sees: no head, a space between blocks."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.hidden = [], 0

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in {"head", "style", "script"}
        if tag in BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        self.hidden -= tag in {"head", "style", "script"}
        if tag in BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def _words(text: str) -> list[str]:
    # List markers are markup in HTML and characters in text: compared without them.
    return [word for word in text.split() if word not in {"-", "—", "•"}]


def visible_words(markup: str) -> list[str]:
    parser = _Visible()
    parser.feed(markup)
    return _words("".join(parser.parts))


def _kinds() -> set[str]:
    return {
        str(path.relative_to(TEMPLATES)).removesuffix("_subject.txt")
        for path in TEMPLATES.glob("*/emails/*_subject.txt")
    }


def test_every_email_kind_has_a_subject_text_and_html_template_and_a_sample_here():
    kinds = _kinds()
    assert len(kinds) >= 19
    for kind in kinds:
        assert (TEMPLATES / f"{kind}.txt").is_file(), kind
        assert (TEMPLATES / f"{kind}.html").is_file(), kind
    assert kinds == set(SAMPLES), "a new e-mail kind needs a sample context in this test"


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_html_part_says_the_same_as_the_text_part(kind):
    email = emails.email_render(kind, SAMPLES[kind])
    assert email.subject and email.text and email.html.startswith("<!DOCTYPE html>")
    assert visible_words(email.html) == _words(email.text)


@pytest.mark.parametrize("kind", sorted(k for k, context in SAMPLES.items() if HOSTILE in repr(context)))
def test_user_data_is_escaped_in_html_and_as_written_in_text(kind):
    email = emails.email_render(kind, SAMPLES[kind])
    assert "<script>" not in email.html and html.escape(HOSTILE, quote=True) in email.html
    assert HOSTILE in email.text


@pytest.mark.django_db
def test_outbox_sends_both_parts(on_commit_immediate):
    rendered = emails.email_render("support/emails/ticket_reply", SAMPLES["support/emails/ticket_reply"])
    outbox.send_email(to="anna@example.org", subject=rendered.subject, body=rendered.text, html=rendered.html)
    sent = mail.outbox[-1]
    assert sent.body == rendered.text
    assert sent.alternatives[0][1] == "text/html" and sent.alternatives[0][0] == rendered.html


@pytest.mark.django_db
def test_notification_email_carries_the_link_in_both_parts(on_commit_immediate):
    user = UserFactory(email="anna@example.org")
    context = {"worker": SimpleNamespace(first_name="Анна"), "application": _application}
    notification_send(user=user, kind="x", template="verification/emails/identity_confirmed", context=context,
                      link="/cabinet/")  # fmt: skip
    sent = mail.outbox[-1]
    html_part = sent.alternatives[0][0]
    assert sent.body.endswith(f"{settings.SITE_URL}/cabinet/")
    assert visible_words(html_part) == _words(sent.body)
