"""The organization cabinet in a browser, on a desktop and on a phone: the demo HR officer logs in with
a password and an SMS code, lands on /org/, hires a registered worker and dismisses another; then the
hired worker logs in and finds the new post, entered by the employer, and its notification."""

import re

import pytest
from django.core.management import call_command

from accounts.models import SmsOutbox
from demo.orgs import DEMO_PASSWORD_HR, hr_snils
from demo.people import WORKERS
from registry.models import DismissalReason, Employment, MedicalWorker, Position

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 740}}
WORKER_SNILS, WORKER_PASSWORD = "112-233-445 95", "Medreg-demo-2026"  # Иванова, seed_demo
HR_SNILS = f"{hr_snils()[:3]}-{hr_snils()[3:6]}-{hr_snils()[6:9]} {hr_snils()[9:]}"


@pytest.fixture
def demo(settings):
    settings.SMS_BACKEND = "accounts.sms.DatabaseBackend"
    call_command("load_directories", verbosity=0)
    call_command("seed_demo", verbosity=0)


def _log_in(page, live_server, snils: str, password: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Медицинский работник").check()
    page.get_by_label("СНИЛС или логин сотрудника").fill(snils)
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Продолжить").click()
    page.wait_for_url("**/accounts/login/verify/**")
    code = re.search(r"\b(\d{6})\b", SmsOutbox.objects.latest("created_at", "id").text).group(1)
    page.get_by_label("Код").fill(code)
    page.get_by_role("button", name="Войти").click()


def _demo_snils(last_name: str) -> str:
    return next(spec.snils for spec in WORKERS if spec.last == last_name)


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("device", VIEWPORTS)
def test_hr_officer_hires_and_dismisses_and_the_worker_sees_it(_chromium, live_server, demo, device, screenshot_dir):
    # The named demo workers, by SNILS: the demo register holds synthetic namesakes too.
    ivanova = MedicalWorker.objects.get(snils=_demo_snils("Иванова"))
    fedorov = MedicalWorker.objects.get(snils=_demo_snils("Фёдоров"))
    held = set(Employment.objects.filter(worker=ivanova).values_list("position_id", flat=True))
    position = Position.objects.filter(is_active=True).exclude(id__in=held).order_by("sort_order", "id").first()
    reason = DismissalReason.objects.get(code="77-1-3")

    context = _chromium.new_context(viewport=VIEWPORTS[device], locale="ru-RU")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        # The HR officer: password and code, then the cabinet of the organization.
        _log_in(page, live_server, HR_SNILS, DEMO_PASSWORD_HR)
        page.wait_for_url(f"{live_server.url}/org/")
        assert page.get_by_role("heading", name="Сотрудники организации").is_visible()
        assert page.get_by_role("link", name=fedorov.full_name).is_visible()
        assert _fits(page), "the staff list is wider than the screen"
        page.screenshot(path=str(screenshot_dir / f"org-staff-{device}.png"), full_page=True)

        # Hire Иванова, already in the register, into a second post (internal part-time).
        page.get_by_role("link", name="Принять работника").click()
        page.get_by_label("СНИЛС работника").fill(WORKER_SNILS)
        page.get_by_label("Должность").select_option(position.code)
        page.get_by_label("Подразделение").fill("Приёмное отделение")
        page.get_by_label("Ставка").fill("0,5")
        page.get_by_label("Вид занятости").select_option("internal")
        page.get_by_role("button", name="Найти работника").click()
        assert page.get_by_text(f"Будет принят: {ivanova.full_name}").is_visible()
        page.get_by_role("button", name="Принять на работу").click()
        page.wait_for_url(f"{live_server.url}/org/workers/{ivanova.pk}/")
        assert page.get_by_text("Работник принят").is_visible()
        assert page.get_by_role("heading", name=f"{position.name}, Приёмное отделение").is_visible()
        assert _fits(page), "the worker page is wider than the screen"

        # Dismiss Фёдоров from his page.
        page.goto(f"{live_server.url}/org/")
        page.get_by_label("ФИО, СНИЛС или регистровый номер").fill("Фёдоров")
        page.get_by_role("button", name="Показать").click()
        page.get_by_role("link", name=fedorov.full_name).click()
        page.locator("summary", has_text="Уволить").click()
        form = page.locator("form[action$='/dismiss/']")
        form.get_by_label("Последний рабочий день").fill("2025-06-30")
        form.get_by_label("Основание увольнения").select_option(reason.code)
        form.get_by_role("button", name="Уволить").click()
        assert page.get_by_text("Увольнение внесено в регистр").is_visible()
        page.screenshot(path=str(screenshot_dir / f"org-dismissed-{device}.png"), full_page=True)
        dismissed = Employment.objects.get(worker=fedorov)
        assert dismissed.ended_on.isoformat() == "2025-06-30" and dismissed.dismissal_reason == reason.name

        # The worker: the new post, entered by the employer, and its notification.
        page.get_by_role("button", name="Выйти").click()
        _log_in(page, live_server, WORKER_SNILS, WORKER_PASSWORD)
        page.wait_for_url(f"{live_server.url}/cabinet/")
        row = page.locator("tr", has_text="Приёмное отделение")
        assert row.get_by_text("Внесено работодателем").is_visible()
        assert row.get_by_role("link", name="Оспорить").is_visible()
        assert page.get_by_role("heading", name="ГКБ № 1 им. Н. И. Пирогова: вы приняты на работу").is_visible()
        page.screenshot(path=str(screenshot_dir / f"org-worker-cabinet-{device}.png"), full_page=True)
    finally:
        context.close()
