"""Public search and profile: text rules, filters, bad parameters, query counts, no protected data."""

import datetime as dt

import pytest
from django.urls import reverse

from registry import services
from registry.models import AdmissionStatus
from tests.factories import AdmissionDocumentFactory, EmploymentFactory, RegionFactory, SpecialtyFactory, WorkerFactory

SEARCH = reverse("registry:search")


def make(last, first, middle="", **kwargs):
    worker = WorkerFactory(last_name=last, first_name=first, middle_name=middle, **kwargs)
    services.worker_refresh_derived(worker_ids=[worker.id])
    worker.refresh_from_db()
    return worker


def names(response):
    return [row.record.full_name for row in response.context["table"].paginated_rows]


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["иванова", "ИВАНОВА", "иван мар", "мар иван", "Иванова Мария"])
def test_prefixes_in_any_order_and_case_find_the_person(client, query):
    make("Иванова", "Мария", "Петровна")
    make("Петров", "Иван")
    assert names(client.get(SEARCH, {"q": query})) == ["Иванова Мария Петровна"]


@pytest.mark.django_db
def test_yo_and_ye_are_the_same_letter(client):
    make("Фёдорова", "Алёна")
    assert names(client.get(SEARCH, {"q": "федорова ален"})) == ["Фёдорова Алёна"]


@pytest.mark.django_db
def test_filters_by_region_and_status(client):
    msk, spb = RegionFactory(code="77", name="Москва"), RegionFactory(code="78", name="Санкт-Петербург")
    spec = SpecialtyFactory()
    a = EmploymentFactory(organization__region=msk, specialty=spec).worker
    b = EmploymentFactory(organization__region=spb, specialty=spec).worker
    AdmissionDocumentFactory(worker=a, specialty=spec, valid_until=dt.date.today() + dt.timedelta(days=30))
    services.worker_refresh_derived(worker_ids=[a.id, b.id])
    assert len(names(client.get(SEARCH, {"region": "77"}))) == 1
    assert len(names(client.get(SEARCH, {"status": AdmissionStatus.EXPIRING}))) == 1
    assert len(names(client.get(SEARCH, {"status": AdmissionStatus.NONE}))) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"region": "999"}, "Регион: неизвестный код"),
        ({"per_page": "1000"}, "На странице: допустимые значения"),
        ({"registered_from": "2025-01-02", "registered_to": "2025-01-01"}, "раньше даты"),
        ({"registered_from": "вчера"}, "Включён в регистр с: дата"),
        ({"sort": "snils"}, "Сортировка"),
        ({"organization": "abc"}, "Организация"),
        ({"page": "-1"}, "Страница"),
    ],
)
def test_bad_parameters_name_the_field_never_500(client, params, text):
    response = client.get(SEARCH, params)
    assert response.status_code == 200
    assert text in response.content.decode()


@pytest.mark.django_db
def test_injection_strings_are_just_text(client):
    make("Иванова", "Мария")
    for q in ["' OR 1=1 --", "%", "_", "\\", "<script>alert(1)</script>"]:
        response = client.get(SEARCH, {"q": q})
        assert response.status_code == 200
        assert "<script>alert(1)" not in response.content.decode()


@pytest.mark.django_db
def test_sort_by_each_sortable_column(client):
    for last in ("Борисова", "Алексеева", "Власова"):
        make(last, "Анна")
    for column in ("full_name", "registry_number", "admission_status", "admission_valid_until", "registered_on"):
        for sort in (column, f"-{column}"):
            assert client.get(SEARCH, {"sort": sort}).status_code == 200
    assert names(client.get(SEARCH, {"sort": "-full_name"}))[0].startswith("Власова")


@pytest.mark.django_db
def test_query_count_per_page_is_constant(client, django_assert_max_num_queries):
    for i in range(120):
        make(f"Смирнова{i:03d}", "Анна")
    # Cold caches: specialty words, the three directory selects and the directory labels.
    with django_assert_max_num_queries(11):
        client.get(SEARCH, {"q": "смирнова", "per_page": "10"})
    # Warm: PostgreSQL reads the dictionary, the count (which also decides on the typo fallback), the
    # page's ids, the page's rows; SQLite the count and the rows. The same for 10 rows as for 100.
    for per_page in ("10", "100"):
        with django_assert_max_num_queries(4):
            response = client.get(SEARCH, {"q": "смирнова", "per_page": per_page})
        assert len(names(response)) == int(per_page)


@pytest.mark.django_db
def test_paging_stops_at_the_page_cap_whatever_the_page_parameter_says(client, monkeypatch):
    from registry.search import engine as search

    monkeypatch.setattr(search, "MAX_PAGE", 3)
    workers = [WorkerFactory(last_name=f"Смирнова{i:03d}", first_name="Анна", middle_name="") for i in range(45)]
    services.worker_refresh_derived(worker_ids=[w.id for w in workers])
    response = client.get(SEARCH, {"q": "смирнова", "per_page": "10", "page": "50000"})
    assert response.context["table"].page.number == 3  # not page 50000 (an OFFSET over the whole result)
    assert names(response) == [f"Смирнова{i:03d} Анна" for i in range(20, 30)]
    body = response.content.decode()
    assert "Показаны первые 3 страниц" in body
    assert "page=4" not in body and "следующая" not in body
    assert 'aria-current="page">3</a>' in body
    # Fewer results than the page asked for: the first page, and no "refine your query" hint.
    response = client.get(SEARCH, {"q": "смирнова001", "per_page": "10", "page": "50000"})
    assert response.context["table"].page.number == 1 and names(response) == ["Смирнова001 Анна"]
    assert "Показаны первые" not in response.content.decode()


@pytest.mark.django_db
def test_header_sorts_from_the_first_page_and_page_links_keep_the_search(client):
    for i in range(30):
        make(f"Смирнова{i:03d}", "Анна")
    body = client.get(
        SEARCH, {"q": "смирнова", "per_page": "10", "page": "2", "sort": "-registered_on", "region": ""}
    ).content.decode()
    # Sort links keep the search, drop the page (a new order starts at its first page) and empty fields.
    query = "q=%D1%81%D0%BC%D0%B8%D1%80%D0%BD%D0%BE%D0%B2%D0%B0&amp;per_page=10"
    assert f'<a href="?{query}&amp;sort=full_name">ФИО' in body
    sorted_header = 'class="orderable desc" aria-sort="descending">'
    assert f'{sorted_header}<a href="?{query}&amp;sort=registered_on">В регистре с' in body
    pages = body[body.index('<nav aria-label="Страницы результатов">') :]
    for page in (1, 3):
        assert f'per_page=10&amp;sort=-registered_on&amp;page={page}"' in pages
    assert 'rel="prev">предыдущая' in pages and 'rel="next">следующая' in pages
    assert 'aria-current="page">2</a>' in pages


@pytest.mark.django_db
def test_public_search_mints_no_csrf_token_for_anonymous_visitors(client):
    """No form of the public page posts for an anonymous visitor: no token to mint, no cookie to set."""
    make("Иванова", "Мария")
    response = client.get(SEARCH, {"q": "иван"})
    assert "csrftoken" not in response.cookies and "X-CSRFToken" not in response.content.decode()


@pytest.mark.django_db
def test_htmx_gets_only_the_results(client):
    make("Иванова", "Мария")
    body = client.get(SEARCH, {"q": "иван"}, HTTP_HX_REQUEST="true").content.decode()
    assert "results-table" in body and "<html" not in body


@pytest.mark.django_db
def test_no_protected_data_on_search_or_profile(client):
    worker = make("Иванова", "Мария", email="private@example.org", phone="+79161234567")
    pages = [
        client.get(SEARCH, {"q": "иванова"}).content.decode(),
        client.get(reverse("registry:profile", args=[worker.registry_number])).content.decode(),
    ]
    for body in pages:
        for secret in (
            worker.snils,
            worker.snils_display,
            worker.inn,
            "private@example.org",
            "+79161234567",
            worker.birth_date.strftime("%d.%m.%Y"),
        ):
            assert secret not in body


@pytest.mark.django_db
def test_profile_shows_the_professional_record(client):
    spec = SpecialtyFactory(name="Кардиология")
    worker = EmploymentFactory(specialty=spec, organization__short_name="ГКБ № 1").worker
    AdmissionDocumentFactory(worker=worker, specialty=spec)
    services.worker_refresh_derived(worker_ids=[worker.id])
    body = client.get(reverse("registry:profile", args=[worker.registry_number])).content.decode()
    assert "Кардиология" in body and "ГКБ № 1" in body and "Действует" in body


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["0000000000", "abc", "1" * 300])
def test_unknown_profile_is_404(client, number):
    assert client.get(f"/registry/{number}/").status_code == 404


@pytest.mark.django_db
def test_small_typo_still_finds_the_person_on_postgresql(client):
    from django.db import connection

    from tests.conftest import skip_or_fail

    if connection.vendor != "postgresql":
        skip_or_fail("trigram similarity needs PostgreSQL's pg_trgm")
    make("Иванова", "Мария", "Петровна")
    make("Сидоров", "Пётр")
    response = client.get(SEARCH, {"q": "иваонва мария"})
    assert names(response) == ["Иванова Мария Петровна"]
    assert response.context["fuzzy"] is True


@pytest.mark.django_db
def test_a_word_can_name_the_specialty(client):
    cardio = SpecialtyFactory(name="Кардиология")
    worker = EmploymentFactory(specialty=cardio, worker__last_name="Орлова", worker__first_name="Анна").worker
    EmploymentFactory(worker__last_name="Орлова", worker__first_name="Вера")
    services.worker_refresh_derived(worker_ids=[worker.id])
    from registry.models import MedicalWorker

    services.worker_refresh_derived(worker_ids=list(MedicalWorker.objects.values_list("id", flat=True)))
    assert names(client.get(SEARCH, {"q": "орлова кардиол"})) == [worker.full_name]


@pytest.mark.django_db
def test_organization_autocomplete_suggests_by_word_prefix(client):
    from tests.factories import OrganizationFactory

    OrganizationFactory(short_name="Городская поликлиника № 17")
    OrganizationFactory(short_name="Областная больница")
    body = client.get(reverse("registry:organization_suggest"), {"org_q": "поликл"}).content.decode()
    assert "Городская поликлиника № 17" in body and "Областная больница" not in body


@pytest.mark.django_db
def test_rows_can_be_ticked_for_export(client):
    worker = make("Иванова", "Мария")
    body = client.get(SEARCH, {"q": "иванова"}).content.decode()
    assert f'name="ids" value="{worker.registry_number}"' in body or (
        'name="ids"' in body and worker.registry_number in body
    )
    assert 'id="export-selected"' in body


NAME_ORDER_QUERIES = [
    "петров",
    "петров ива",
    "ива петров",
    "мар петр",
    "смирнова мар",
    "оглы",
    "мамед",
    "а",
    "кардиол",
    "петров кардиол",
    "ива",
    "иванов иван иванович",
    "нет-такого",
    "зз",
    "петрова ив",
    "алиев огл",
    "иванов пет",
    "петров пет",
    "алиев ибр мам",
]


@pytest.mark.django_db
@pytest.mark.parametrize("split_min", [None, 1])
def test_name_ordered_branches_return_exactly_the_generic_result(client, monkeypatch, split_min):
    """The PostgreSQL fast path (merged index branches, NameOrderedResult) must give the same rows in
    the same order as the plain query — duplicates across positions, 4-word names, filters included."""
    from django.db import connection

    from registry.search import engine as search
    from registry.search.engine import SearchForm, worker_search
    from tests.conftest import skip_or_fail
    from tests.factories import SpecialtyFactory

    if connection.vendor != "postgresql":
        skip_or_fail("the name-ordered branches are PostgreSQL's path")
    splits = []
    if split_min:
        # Every surname branch large enough to split (at 3 million workers: 2,000 entries and more).
        monkeypatch.setattr(search, "SPLIT_MIN_WORKERS", split_min)
        monkeypatch.setattr(search, "SPLIT_PATRONYMICS_FACTOR", 0)
        original = search._surname_branches
        monkeypatch.setattr(search, "_surname_branches", lambda *a: splits.append(a[1:3]) or original(*a))
    cardio = SpecialtyFactory(name="Кардиология")
    people = [
        ("Петров", "Иван", "Петрович"),
        ("Петрова", "Мария", "Ивановна"),
        ("Иванов", "Пётр", "Петрович"),
        ("Петров", "Петр", "Петрович"),
        ("Смирнова", "Марина", ""),
        ("Смирнова", "Мария", "Петровна"),
        ("Алиев", "Мамед", "Ибрагим оглы"),
        ("Мамедов", "Али", "Петрович"),
        ("Иванов", "Иван", "Иванович"),
        ("Абрамова", "Анна", "Ивановна"),
        ("Маркова", "Петра", ""),
        ("Ивашкин", "Марк", "Петрович"),
    ]
    for _copy in range(3):
        for last, first, middle in people:
            make(last, first, middle)
    worker = make("Петрова", "Ирина", "Андреевна")
    EmploymentFactory(worker=worker, specialty=cardio)
    services.worker_refresh_derived(worker_ids=[worker.id])
    services.search_words_rebuild()
    for query in NAME_ORDER_QUERIES:
        for extra in ({}, {"status": "none"}):
            form = SearchForm({"q": query, **extra})
            assert form.is_valid(), form.errors
            result = worker_search(form.cleaned_data)
            expected = [w.id for w in result.queryset]
            if result.by_name is None:
                continue
            assert [w.id for w in result.by_name[0:1000]] == expected, query
            assert result.by_name.count() == (len(expected), False), query
            assert [w.id for w in result.by_name[2:5]] == expected[2:5], query
    if split_min:
        # Split by a first name, a patronymic, a fourth word, one word matching twice (first name and
        # patronymic «пет»), and never by a word the surname itself starts with («петров пет»).
        assert {("смирнова", "мар"), ("петрова", "ив"), ("алиев", "огл"), ("иванов", "пет")} <= set(splits)
        assert ("петров", "пет") not in splits


@pytest.mark.django_db
def test_a_name_sorted_by_another_column_gives_exactly_the_generic_order(client):
    """Name + another sort on PostgreSQL: the name branches sorted on the keys they carry (or joined to
    a directory), or the matches' rows sorted by id filter — the same rows in the same order as the
    plain query, both directions, ties and missing directory entries included."""
    from django.db import connection

    from registry.models import MedicalWorker
    from registry.search.engine import NameSortedResult, SearchForm, result_page_source, worker_search
    from registry.search.tables import SORTABLE_COLUMNS, WorkerTable
    from tests.conftest import skip_or_fail
    from tests.factories import CategoryFactory

    if connection.vendor != "postgresql":
        skip_or_fail("the name branches are PostgreSQL's path")
    # Directory order is by name (categories: sort_order first), not by id: created against that order.
    south, north = RegionFactory(code="10", name="Юг"), RegionFactory(code="20", name="Север")
    top, second = CategoryFactory(code="1", name="Высшая", sort_order=1), CategoryFactory(code="2", name="Вторая")
    therapy, cardiology = SpecialtyFactory(name="Терапия"), SpecialtyFactory(name="Кардиология")
    for n, (last, first) in enumerate(
        [
            ("Петрова", "Анна"),
            ("Петров", "Иван"),
            ("Петрова", "Мария"),
            ("Иванова", "Петра"),
            ("Петровская", "Анна"),
            ("Петрова", "Анна"),
        ]
    ):
        worker = make(last, first, "Ивановна" if n % 2 else "")
        # The derived columns, set as they would be derived (the factories' records would say otherwise).
        MedicalWorker.objects.filter(pk=worker.pk).update(
            region=(north, south, None)[n % 3],
            category=(top, second, None)[n % 3],
            primary_specialty=(therapy, cardiology, None)[n % 3],
            registered_on=dt.date(2020, 1, 1 + n % 2),
            admission_status=("active", "expired")[n % 2],
        )
    services.search_words_rebuild()
    for query in ("петров", "петрова ан", "иван"):
        for column in sorted(SORTABLE_COLUMNS - {"full_name"}):
            for sort in (column, f"-{column}"):
                form = SearchForm({"q": query, "sort": sort})
                assert form.is_valid(), form.errors
                result = worker_search(form.cleaned_data)
                assert result.by_name is not None, query
                source, (count, _) = result_page_source(result, form.cleaned_data)
                assert isinstance(source, NameSortedResult) == (column in NameSortedResult.ORDERS)
                keys = WorkerTable.base_columns[column].order_by
                keys = keys.opposite if sort.startswith("-") else keys
                expected = [w.id for w in result.queryset.order_by(*(str(k) for k in keys))]
                assert [w.id for w in source[0:100]] == expected, (query, sort)
                assert [w.id for w in source[1:3]] == expected[1:3], (query, sort)
                assert count == len(expected)


@pytest.mark.django_db
def test_search_name_is_in_the_c_collation_on_postgresql():
    """Name ranges (_surname_branches) are only right in byte order; an AlterField on search_name
    would quietly put the column back in the database's collation (migration 0011)."""
    from django.db import connection

    from tests.conftest import skip_or_fail

    if connection.vendor != "postgresql":
        skip_or_fail("collations are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT collation_name FROM information_schema.columns"
            " WHERE table_name = 'registry_medicalworker' AND column_name = 'search_name'"
        )
        assert cursor.fetchone() == ("C",)


@pytest.mark.django_db
def test_search_dictionary_follows_new_names_and_rebuilds():
    from registry.models import SearchWord

    make("Цветаева", "Марина", "Ивановна")
    assert set(SearchWord.objects.values_list("word", "position")) >= {("цветаева", 1), ("марина", 2), ("ивановна", 3)}
    make("Цветаева", "Анастасия", "")
    assert services.search_words_rebuild() == SearchWord.objects.count()
    assert SearchWord.objects.get(word="цветаева", position=1).workers == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "column", ["primary_specialty", "-primary_specialty", "region", "-region", "category", "-category"]
)
def test_directory_sorts_walk_the_directory_in_the_same_order_as_the_join(client, column):
    from django.db import connection

    from registry.search.engine import DirectoryOrderedResult, SearchForm, worker_search
    from registry.search.tables import WorkerTable
    from tests.factories import CategoryFactory, RegionFactory, SpecialtyFactory

    specialties = [SpecialtyFactory(name=name) for name in ("Терапия", "Кардиология", "Хирургия")]
    regions = [RegionFactory(name=name) for name in ("Тверская область", "Амурская область")]
    categories = [CategoryFactory(name=name, sort_order=i) for i, name in enumerate(("Вторая", "Высшая"))]
    for i in range(14):
        worker = WorkerFactory(last_name=f"Фамилия{i % 5}", first_name="Анна")
        if i % 4:
            EmploymentFactory(worker=worker, specialty=specialties[i % 3], organization__region=regions[i % 2])
        services.worker_refresh_derived(worker_ids=[worker.id])
        if i % 3:
            from registry.models import MedicalWorker

            MedicalWorker.objects.filter(pk=worker.pk).update(category=categories[i % 2])
    form = SearchForm({"sort": column})
    assert form.is_valid(), form.errors
    result = worker_search(form.cleaned_data)
    keys = WorkerTable.base_columns[column.lstrip("-")].order_by
    keys = keys.opposite if column.startswith("-") else keys
    expected = [w.id for w in result.queryset.order_by(*[str(k) for k in keys])]
    walked = DirectoryOrderedResult(result.queryset, column)
    if connection.vendor != "postgresql":
        # SQLite puts NULLs first when ascending; compare the rows that have a value, in order.
        field = column.lstrip("-")
        with_value = {w.id for w in result.queryset.filter(**{f"{field}__isnull": False})}
        expected = [pk for pk in expected if pk in with_value]
        assert [w.id for w in walked[0:100] if w.id in with_value] == expected
        return
    assert [w.id for w in walked[0:100]] == expected
    for start, stop in ((0, 3), (3, 7), (5, 13), (12, 20)):
        assert [w.id for w in walked[start:stop]] == expected[start:stop]
    response = client.get(SEARCH, {"sort": column, "per_page": 10, "page": 2})
    assert [row.record.id for row in response.context["table"].paginated_rows] == expected[10:20]


@pytest.mark.django_db
def test_rows_written_from_records_say_what_the_column_renderers_say(client):
    """WorkerTable.body_html writes the rows without the cell machinery: same cells, all escaped."""
    import lxml.html
    from django.utils.html import conditional_escape

    from registry.models import MedicalWorker
    from registry.search.tables import WorkerTable
    from tests.factories import CategoryFactory

    specialty = SpecialtyFactory(name='Терапия <b>"&"</b>')
    worker = WorkerFactory(last_name="Петрова", first_name="Анна", middle_name="")
    EmploymentFactory(worker=worker, specialty=specialty, organization__region=RegionFactory(name="Тверская & Ко"))
    services.worker_refresh_derived(worker_ids=[worker.id])
    MedicalWorker.objects.filter(pk=worker.pk).update(
        category=CategoryFactory(name="Высшая квалификационная категория"),
        admission_valid_until=dt.date(2027, 3, 9),
    )
    bare = WorkerFactory(last_name="Сидоров", first_name="Иван")  # no specialty, region, category, date
    response = client.get(SEARCH, {"per_page": 10})
    table = response.context["table"]
    rows = lxml.html.fromstring(f"<table>{table.body_html()}</table>").findall(".//tr")
    assert len(rows) == 2
    by_number = {row.find(".//input").get("value"): row for row in rows}
    for record in (MedicalWorker.objects.get(pk=worker.pk), MedicalWorker.objects.get(pk=bare.pk)):
        cells = [td.text_content() for td in by_number[record.registry_number].findall("td")]
        reference = WorkerTable([record])
        row = reference.rows[0]
        expected = [
            lxml.html.fromstring(f"<div>{conditional_escape(row.get_cell(column))}</div>").text_content()
            for column in WorkerTable.Meta.sequence[1:]
        ]
        assert cells[1:] == expected
        link = by_number[record.registry_number].find(".//a")
        assert link.get("href") == reverse("registry:profile", args=[record.registry_number])
    assert "Терапия &lt;b&gt;&quot;&amp;&quot;&lt;/b&gt;" in table.body_html()
    assert "Тверская &amp; Ко" in table.body_html()
    assert "<b>" not in table.body_html()


@pytest.mark.django_db
@pytest.mark.parametrize("column,param", [("region", "region"), ("-primary_specialty", "specialty")])
def test_directory_sort_within_that_filter_walks_one_entry(client, column, param, django_assert_max_num_queries):
    from registry.models import MedicalWorker

    regions = [RegionFactory(code="69", name="Тверская область"), RegionFactory(code="28", name="Амурская область")]
    specialties = [SpecialtyFactory(name=name) for name in ("Терапия", "Хирургия")]
    for n in range(12):  # entries nobody in the result has: walking them would be a query each
        RegionFactory(code=f"{n + 40}", name=f"Область {n:02d}")
        SpecialtyFactory(name=f"Специальность {n:02d}")
    for i in range(8):
        worker = WorkerFactory(last_name=f"Фамилия{i}", first_name="Анна")
        EmploymentFactory(worker=worker, specialty=specialties[i % 2], organization__region=regions[i % 2])
        services.worker_refresh_derived(worker_ids=[worker.id])
        MedicalWorker.objects.filter(pk=worker.pk).update(region=regions[i % 2], primary_specialty=specialties[i % 2])
    code = (regions[0] if param == "region" else specialties[0]).code
    client.get(SEARCH, {"sort": column, param: code})  # directory caches warmed
    with django_assert_max_num_queries(8):
        response = client.get(SEARCH, {"sort": column, param: code})
    names = [row.record.last_name for row in response.context["table"].paginated_rows]
    expected = [f"Фамилия{i}" for i in range(0, 8, 2)]
    assert names == (expected[::-1] if column.startswith("-") else expected)


@pytest.mark.django_db
def test_a_directory_entry_added_after_the_caches_were_filled_is_sorted_and_named(client):
    """Directory names and orders are cached for the search; a new or renamed entry empties the caches."""
    from registry.models import MedicalWorker

    first = SpecialtyFactory(name="Терапия")
    worker = WorkerFactory(last_name="Петрова", first_name="Анна")
    MedicalWorker.objects.filter(pk=worker.pk).update(primary_specialty=first)
    client.get(SEARCH, {"sort": "primary_specialty"})  # caches filled
    second = SpecialtyFactory(name="Аллергология")
    other = WorkerFactory(last_name="Сидорова", first_name="Анна")
    MedicalWorker.objects.filter(pk=other.pk).update(primary_specialty=second)
    first.name = "Хирургия"
    first.save()
    response = client.get(SEARCH, {"sort": "primary_specialty"})
    assert [row.record.last_name for row in response.context["table"].paginated_rows] == ["Сидорова", "Петрова"]
    body = response.content.decode()
    assert "Аллергология" in body and "Хирургия" in body
