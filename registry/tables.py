from html import escape

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django_tables2.data import TableListData

from .models import AdmissionStatus, MedicalWorker
from .selectors import directory_labels

_STATUS_LABELS = dict(AdmissionStatus.choices)
# One row of the results, in WorkerTable.Meta.sequence order; every value is escaped before it goes in.
_ROW = (
    '<tr><td><input type="checkbox" name="ids" value="{number}" form="export-selected" '
    'aria-label="Отметить для выгрузки: {name}"></td>'
    '<td><a href="{url}" hx-boost="false">{name}</a></td>'
    "<td>{number_display}</td><td>{specialty}</td><td>{region}</td>"
    '<td><span class="badge badge-{status}">{status_label}</span></td>'
    "<td>{valid_until}</td><td>{category}</td><td>{registered_on}</td></tr>"
)


def _date(value) -> str:
    return f"{value.day:02d}.{value.month:02d}.{value.year}" if value else "—"


class WorkerTable(tables.Table):
    """Public columns only: nothing here is protected personal data (see DOMAIN.md).

    Sortable columns order by indexed keys of the worker row (see MedicalWorker.Meta.indexes);
    specialty, region and category by the directory's order, then the name (registry.search
    DirectoryOrderedResult walks the directory instead of sorting millions of joined rows).
    """

    # Ticked rows go to «Выгрузить отмеченные»: the boxes belong to the form #export-selected.
    selected = tables.CheckBoxColumn(
        accessor="registry_number",
        orderable=False,
        attrs={
            "input": {"name": "ids", "form": "export-selected", "aria-label": "Отметить для выгрузки"},
            "th__input": {"aria-label": "Отметить все на странице", "data-check-all": "ids"},
        },
    )
    full_name = tables.Column(verbose_name="ФИО", empty_values=(), order_by=("search_name", "id"))
    registry_number = tables.Column(verbose_name="Регистровый номер", order_by=("registry_number",))
    primary_specialty = tables.Column(
        verbose_name="Специальность", order_by=("primary_specialty__name", "primary_specialty_id", "search_name", "id")
    )
    region = tables.Column(verbose_name="Регион", order_by=("region__name", "region_id", "search_name", "id"))
    admission_status = tables.Column(verbose_name="Допуск", order_by=("admission_status", "search_name", "id"))
    admission_valid_until = tables.DateColumn(
        verbose_name="Действует до", format="d.m.Y", order_by=("admission_valid_until", "id")
    )
    category = tables.Column(
        verbose_name="Категория",
        order_by=("category__sort_order", "category__name", "category_id", "search_name", "id"),
    )
    registered_on = tables.DateColumn(verbose_name="В регистре с", format="d.m.Y", order_by=("registered_on", "id"))

    class Meta:
        model = MedicalWorker
        fields = ()
        sequence = ("selected", "full_name", "registry_number", "primary_specialty", "region", "admission_status",
                    "admission_valid_until", "category", "registered_on")
        attrs = {"class": "table", "id": "results-table"}
        order_by_field = "sort"
        page_field = "page"
        per_page_field = "per_page"
        empty_text = "Никого не найдено. Проверьте написание или уберите часть фильтров."
        # Rows are written out by the template from the record (fast); the render_* methods below
        # serve other renderings of the table (e.g. as_values) and must say the same.
        template_name = "registry/_worker_table.html"

    def body_html(self) -> SafeString:
        """The rows of the current page, written straight from the records.

        Template loops with a {% url %} per row cost about 10 ms a page at 25 rows, half the time of a
        whole search request; this costs a tenth of a millisecond. The cells say what the render_*
        methods below say (tested), and every value is HTML-escaped.
        """
        profile = reverse("registry:profile", args=["0000000000"]).replace("0000000000", "{}")
        # The directories by id (no join, no related instance per row); emptied when a directory changes.
        labels = directory_labels()
        specialties, regions, categories = labels["specialty"], labels["region"], labels["category"]
        rows = []
        for w in (row.record for row in self.paginated_rows):
            rows.append(
                _ROW.format(
                    number=escape(w.registry_number),
                    name=escape(w.full_name),
                    url=escape(profile.format(w.registry_number)),
                    number_display=escape(w.registry_number_display),
                    specialty=escape(specialties.get(w.primary_specialty_id) or "—"),
                    region=escape(regions.get(w.region_id) or "—"),
                    status=escape(w.admission_status),
                    status_label=escape(_STATUS_LABELS.get(w.admission_status, w.admission_status)),
                    valid_until=_date(w.admission_valid_until),
                    category=escape(categories.get(w.category_id) or "—"),
                    registered_on=_date(w.registered_on),
                )
            )
        return mark_safe("\n".join(rows))  # noqa: S308 -- every value above is escaped

    def render_full_name(self, record):
        url = reverse("registry:profile", args=[record.registry_number])
        # A real page change, not an htmx swap into the results.
        return format_html('<a href="{}" hx-boost="false">{}</a>', url, record.full_name)

    def render_registry_number(self, record):
        return record.registry_number_display

    def render_admission_status(self, record):
        return format_html(
            '<span class="badge badge-{}">{}</span>', record.admission_status, record.get_admission_status_display()
        )

    def render_category(self, record):
        return record.category_short or "—"


class PreorderedData(TableListData):
    """Rows a search already returns in the order asked for: the table pages them, never sorts them
    (sorting would list() every match)."""

    def order_by(self, aliases):
        pass


SORTABLE_COLUMNS = {name for name, column in WorkerTable.base_columns.items() if column.orderable is not False}
