"""Saved searches, watched workers and the daily digest that e-mails what changed."""

import pytest
from django.conf import settings
from django.core import mail
from django.http import QueryDict
from django.urls import reverse

from registry import services
from registry.models import AdmissionStatus, MedicalWorker, SavedSearch, WatchedWorker
from registry.saved import services as saved_searches
from registry.tasks import saved_search_digest
from tests.factories import RegionFactory, UserFactory, WorkerFactory

SAVED = reverse("registry:saved")
CREATE = reverse("registry:saved_create")


def make(last, first, **kwargs):
    worker = WorkerFactory(last_name=last, first_name=first, middle_name="", **kwargs)
    services.worker_refresh_derived(worker_ids=[worker.id])
    worker.refresh_from_db()
    return worker


@pytest.fixture
def user(db):
    return UserFactory(email="reader@example.ru")


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def save(user, name="Ивановы", query="q=иванов"):
    return saved_searches.saved_search_create(user=user, name=name, querydict=QueryDict(query))


# --- Saving, re-running, deleting ----------------------------------------------------------------


@pytest.mark.django_db
def test_saving_from_the_search_page_keeps_the_filters_and_drops_paging(logged_in, user):
    RegionFactory(code="77", name="Москва")
    query = "q=иванов&region=77&status=active&page=3&per_page=50&sort=-full_name"
    response = logged_in.post(CREATE, {"name": "Московские Ивановы", "query": query})
    assert response.status_code == 302
    saved = SavedSearch.objects.get(user=user)
    assert saved.name == "Московские Ивановы"
    assert saved.params == {"q": "иванов", "region": "77", "status": "active"}
    assert saved.notify is True


@pytest.mark.django_db
def test_htmx_save_takes_the_current_search_fields_over_the_stale_query(logged_in, user):
    response = logged_in.post(
        CREATE, {"name": "Петровы", "query": "q=иванов", "q": "петров", "status": ""}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "сохранён" in response.content.decode()
    assert SavedSearch.objects.get(user=user).params == {"q": "петров"}


@pytest.mark.django_db
def test_saved_list_links_rerun_the_search(logged_in, user, django_assert_max_num_queries):
    make("Иванова", "Мария")
    make("Петрова", "Анна")
    save(user)
    save(user, name="Петровы", query="q=петров")
    with django_assert_max_num_queries(8):
        page = logged_in.get(SAVED).content.decode()
    assert "Ивановы" in page and "Петровы" in page
    link = reverse("registry:search") + "?q=%D0%B8%D0%B2%D0%B0%D0%BD%D0%BE%D0%B2"
    assert f'href="{link}"' in page
    rerun = logged_in.get(link)
    assert [row.record.full_name for row in rerun.context["table"].paginated_rows] == ["Иванова Мария"]


@pytest.mark.django_db
def test_delete_and_notify_toggle(logged_in, user):
    saved = save(user)
    logged_in.post(reverse("registry:saved_notify", args=[saved.pk]), {})
    saved.refresh_from_db()
    assert saved.notify is False
    logged_in.post(reverse("registry:saved_notify", args=[saved.pk]), {"notify": "on"})
    saved.refresh_from_db()
    assert saved.notify is True
    assert logged_in.post(reverse("registry:saved_delete", args=[saved.pk])).status_code == 302
    assert not SavedSearch.objects.exists()


@pytest.mark.django_db
def test_another_users_saved_search_is_404(logged_in):
    other = save(UserFactory(), name="Чужой")
    assert logged_in.post(reverse("registry:saved_delete", args=[other.pk])).status_code == 404
    assert logged_in.post(reverse("registry:saved_notify", args=[other.pk]), {"notify": "on"}).status_code == 404
    assert SavedSearch.objects.filter(pk=other.pk).exists()
    assert "Чужой" not in logged_in.get(SAVED).content.decode()


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_login(client):
    assert client.get(SAVED).status_code == 302
    assert client.post(CREATE, {"name": "x", "query": "q=a"}).status_code == 302
    assert not SavedSearch.objects.exists()


@pytest.mark.django_db
def test_search_page_offers_saving_only_to_logged_in_users(client, logged_in):
    assert "Сохранить поиск" in logged_in.get(reverse("registry:search"), {"q": "иван"}).content.decode()
    client.logout()
    assert "Сохранить поиск" not in client.get(reverse("registry:search"), {"q": "иван"}).content.decode()


# --- Bad input names the field --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "query", "field", "text"),
    [
        ("", "q=иванов", "name", "Название"),
        ("   ", "q=иванов", "name", "Название"),
        ("x" * 101, "q=иванов", "name", "Название"),
        ("Пустой", "", "query", "Параметры поиска"),
        ("Пустой", "page=2&sort=full_name", "query", "Параметры поиска"),
        ("Регион", "region=999", "region", "Регион: неизвестный код"),
        ("Даты", "registered_from=2025-01-02&registered_to=2025-01-01", "registered_to", "Включён в регистр по"),
        ("Дата", "registered_from=вчера", "registered_from", "Включён в регистр с"),
        ("Статус", "status=%27%3B+DROP+TABLE", "status", "Статус допуска"),
        ("Длинный", "q=" + "а" * 201, "q", "ФИО"),
    ],
)
def test_invalid_input_is_refused_naming_the_field(user, name, query, field, text):
    with pytest.raises(saved_searches.SavedSearchError) as exc:
        save(user, name=name, query=query)
    assert exc.value.field == field
    assert text in exc.value.message
    assert not SavedSearch.objects.exists()


@pytest.mark.django_db
def test_duplicate_name_and_the_per_user_limit(user):
    save(user)
    with pytest.raises(saved_searches.SavedSearchError, match="Название: поиск «Ивановы» уже сохранён"):
        save(user)
    save(UserFactory())  # another user may use the same name
    for n in range(saved_searches.MAX_SAVED_PER_USER - 1):
        save(user, name=f"Поиск {n}")
    with pytest.raises(saved_searches.SavedSearchError, match="не больше 20"):
        save(user, name="Лишний")
    assert SavedSearch.objects.filter(user=user).count() == saved_searches.MAX_SAVED_PER_USER


@pytest.mark.django_db
def test_view_shows_the_error_and_saves_nothing(logged_in):
    response = logged_in.post(CREATE, {"name": "Регион", "query": "region=999"}, follow=True)
    assert "Регион: неизвестный код" in response.content.decode()
    assert not SavedSearch.objects.exists()


# --- Watching ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_watch_and_unwatch_from_the_profile(logged_in, user):
    worker = make("Сидорова", "Ольга")
    url = reverse("registry:watch", args=[worker.registry_number])
    profile = reverse("registry:profile", args=[worker.registry_number])
    assert "Следить за изменением статуса" in logged_in.get(profile).content.decode()
    assert logged_in.post(url, {"action": "watch"}).status_code == 302
    watch = WatchedWorker.objects.get(user=user, worker=worker)
    assert watch.last_status == worker.admission_status
    logged_in.post(url, {"action": "watch"})  # twice is still one watch
    assert WatchedWorker.objects.filter(user=user).count() == 1
    assert "Не следить за статусом" in logged_in.get(profile).content.decode()
    logged_in.post(url, {"action": "unwatch"})
    assert not WatchedWorker.objects.exists()


@pytest.mark.django_db
def test_watch_needs_login_and_an_existing_worker(client, logged_in):
    assert logged_in.post(reverse("registry:watch", args=["0000000000"])).status_code == 404
    worker = make("Сидорова", "Ольга")
    client.logout()
    assert client.post(reverse("registry:watch", args=[worker.registry_number])).status_code == 302
    assert not WatchedWorker.objects.exists()


# --- The daily digest ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_new_matching_worker_is_mailed_once(user, on_commit_immediate):
    make("Иванова", "Мария")  # already in the register when the search is saved: not news
    save(user)
    make("Иванов", "Пётр")
    make("Петрова", "Анна")  # does not match
    assert saved_search_digest.delay().get() == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["reader@example.ru"]
    assert "«Ивановы»: 1" in message.body
    assert "Иванов Пётр" in message.body
    assert "Иванова Мария" not in message.body and "Петрова" not in message.body
    assert settings.SITE_URL in message.body

    # The second run the same day: state moved with the decision, so nothing to say.
    assert saved_searches.saved_search_digest_run() == 0
    assert len(mail.outbox) == 1
    saved = SavedSearch.objects.get()
    assert saved.last_seen_max_id == MedicalWorker.objects.latest("id").id
    assert saved.last_checked_at is not None


@pytest.mark.django_db
def test_long_lists_are_cut_at_twenty_names(user, on_commit_immediate):
    save(user)
    for n in range(23):
        make("Иванов", f"Сын{n:02d}")
    saved_searches.saved_search_digest_run()
    body = mail.outbox[0].body
    assert "«Ивановы»: 23" in body
    assert body.count("Иванов Сын") == 20
    assert "и ещё 3" in body


@pytest.mark.django_db
def test_notifications_off_means_no_mail(user, on_commit_immediate):
    saved = save(user)
    saved_searches.saved_search_set_notify(saved_search=saved, notify=False)
    make("Иванов", "Пётр")
    assert saved_searches.saved_search_digest_run() == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_watched_worker_status_change_is_mailed_once(user, on_commit_immediate):
    worker = make("Сидорова", "Ольга")
    assert worker.admission_status == AdmissionStatus.NONE
    saved_searches.watch_add(user=user, worker=worker)
    assert saved_searches.saved_search_digest_run() == 0  # nothing changed yet

    MedicalWorker.objects.filter(pk=worker.pk).update(admission_status=AdmissionStatus.SUSPENDED)
    assert saved_searches.saved_search_digest_run() == 1
    body = mail.outbox[0].body
    assert "Сидорова Ольга: Нет документа → Приостановлен" in body
    assert reverse("registry:profile", args=[worker.registry_number]) in body

    assert saved_searches.saved_search_digest_run() == 0
    assert len(mail.outbox) == 1
    assert WatchedWorker.objects.get().last_status == AdmissionStatus.SUSPENDED


@pytest.mark.django_db
def test_one_mail_per_user_covers_searches_and_watches(user, on_commit_immediate):
    watched = make("Сидорова", "Ольга")
    saved_searches.watch_add(user=user, worker=watched)
    save(user)
    save(user, name="Петровы", query="q=петров")
    other = UserFactory(email="other@example.ru")
    save(other, name="Петровы", query="q=петров")
    make("Иванов", "Пётр")
    make("Петров", "Олег")
    MedicalWorker.objects.filter(pk=watched.pk).update(admission_status=AdmissionStatus.EXPIRED)
    assert saved_searches.saved_search_digest_run() == 2
    by_user = {m.to[0]: m.body for m in mail.outbox}
    assert set(by_user) == {"reader@example.ru", "other@example.ru"}
    mine = by_user["reader@example.ru"]
    assert "Иванов Пётр" in mine and "Петров Олег" in mine and "Сидорова Ольга: Нет документа → Истёк" in mine
    assert "Иванов" not in by_user["other@example.ru"]


@pytest.mark.django_db
def test_mail_leaves_only_after_commit(user):
    save(user)
    make("Иванов", "Пётр")
    # Without on_commit_immediate the test transaction never commits: nothing is sent, yet.
    saved_searches.saved_search_digest_run()
    assert mail.outbox == []


def test_digest_is_scheduled_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["saved-search-digest"]
    assert entry["task"] == "registry.saved_search_digest"
