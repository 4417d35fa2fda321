import copy
from html import escape
from urllib.parse import urlencode

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django_tables2.data import TableListData

from ..models import AdmissionStatus, MedicalWorker
from ..selectors import directory_labels

_STATUS_HTML = {code: (escape(code), escape(label)) for code, label in AdmissionStatus.choices}
# One row of the results, in WorkerTable.Meta.sequence order; every value is escaped before it goes in.
# data-label repeats the column header for the stacked cards on a phone (static/css/site.css).
_ROW = (
    '<tr><td data-label="Выгрузить"><input type="checkbox" name="ids" value="{number}" form="export-selected" '
    'aria-label="Отметить для выгрузки: {name}"></td>'
    '<td data-label="ФИО"><a href="{url}" hx-boost="false">{name}</a></td>'
    '<td data-label="Регистровый номер">{number_display}</td><td data-label="Специальность">{specialty}</td>'
    '<td data-label="Регион">{region}</td>'
    '<td data-label="Допуск"><span class="badge badge-{status}">{status_label}</span></td>'
    '<td data-label="Действует до">{valid_until}</td><td data-label="Категория">{category}</td>'
    '<td data-label="В регистре с">{registered_on}</td></tr>'
)


def _date(value) -> str:
    return f"{value.day:02d}.{value.month:02d}.{value.year}" if value else "—"


class _SharedColumn:
    """A column that tables share instead of deep-copying.

    django-tables2 deep-copies every column for each table instance (about 500 copy calls, a tenth of
    a search request's Python time). Nothing changes a column of this table per instance (per-table
    state lives on the bound columns), so a shallow copy is enough.
    """

    def __deepcopy__(self, memo):
        return copy.copy(self)


class Column(_SharedColumn, tables.Column):
    pass


class DateColumn(_SharedColumn, tables.DateColumn):
    pass


class CheckBoxColumn(_SharedColumn, tables.CheckBoxColumn):
    pass


PAGE_LINKS = 10  # page numbers shown around the current page


class WorkerTable(tables.Table):
    """Public columns only: nothing here is protected personal data (see docs/domain.md).

    Sortable columns order by indexed keys of the worker row (see MedicalWorker.Meta.indexes);
    specialty, region and category by the directory's order, then the name (registry.search
    DirectoryOrderedResult walks the directory instead of sorting millions of joined rows).
    """

    # Ticked rows go to «Выгрузить отмеченные»: the boxes belong to the form #export-selected.
    selected = CheckBoxColumn(
        accessor="registry_number",
        orderable=False,
        attrs={
            "input": {"name": "ids", "form": "export-selected", "aria-label": "Отметить для выгрузки"},
            "th__input": {"aria-label": "Отметить все на странице", "data-check-all": "ids"},
        },
    )
    full_name = Column(verbose_name="ФИО", empty_values=(), order_by=("search_name", "id"))
    registry_number = Column(verbose_name="Регистровый номер", order_by=("registry_number",))
    primary_specialty = Column(
        verbose_name="Специальность", order_by=("primary_specialty__name", "primary_specialty_id", "search_name", "id")
    )
    region = Column(verbose_name="Регион", order_by=("region__name", "region_id", "search_name", "id"))
    admission_status = Column(verbose_name="Допуск", order_by=("admission_status", "search_name", "id"))
    admission_valid_until = DateColumn(
        verbose_name="Действует до", format="d.m.Y", order_by=("admission_valid_until", "id")
    )
    category = Column(
        verbose_name="Категория",
        order_by=("category__sort_order", "category__name", "category_id", "search_name", "id"),
    )
    registered_on = DateColumn(verbose_name="В регистре с", format="d.m.Y", order_by=("registered_on", "id"))

    class Meta:
        model = MedicalWorker
        fields = ()
        sequence = (
            "selected",
            "full_name",
            "registry_number",
            "primary_specialty",
            "region",
            "admission_status",
            "admission_valid_until",
            "category",
            "registered_on",
        )
        attrs = {"class": "table table--cards", "id": "results-table"}
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
        profile = escape(reverse("registry:profile", args=["0000000000"])).replace("0000000000", "{}")
        # The directories by id, HTML-escaped (no join, no related instance per row); emptied when a
        # directory changes.
        labels = directory_labels()
        specialties, regions, categories = labels["specialty"], labels["region"], labels["category"]
        rows = []
        for w in (row.record for row in self.paginated_rows):
            number = escape(w.registry_number)
            status, status_label = _STATUS_HTML.get(w.admission_status) or (escape(w.admission_status),) * 2
            rows.append(
                _ROW.format(
                    number=number,
                    name=escape(w.full_name),
                    url=profile.format(number),
                    number_display=escape(w.registry_number_display),
                    specialty=specialties.get(w.primary_specialty_id) or "—",
                    region=regions.get(w.region_id) or "—",
                    status=status,
                    status_label=status_label,
                    valid_until=_date(w.admission_valid_until),
                    category=categories.get(w.category_id) or "—",
                    registered_on=_date(w.registered_on),
                )
            )
        return mark_safe("\n".join(rows))  # noqa: S308 -- every value above is escaped

    # The page around the rows is written here too: django-tables2's table template (a querystring tag
    # per header and page link, and the context processors run once more) took a quarter of a search
    # request's Python time. Ordering and paging state still come from django-tables2 (bound columns,
    # table.page).
    max_page: int | None = None  # the view caps paging (no OFFSET scans over millions of rows)

    def html(self) -> SafeString:
        """The whole table: sortable header, the page's rows, page links (all values escaped)."""
        if len(self.page.object_list) if hasattr(self, "page") else len(self.rows):
            body = self.body_html()
        else:
            body = f'<tr><td colspan="{len(self.columns)}">{escape(str(self.empty_text))}</td></tr>'
        attrs = "".join(
            f' {name}="{escape(str(value))}"'
            for name, value in self.attrs.items()
            if name not in ("thead", "tbody", "tfoot")
        )
        return mark_safe(  # noqa: S308 -- built from escaped parts
            f'<div class="table-container"><table{attrs}><thead><tr>{self.head_html()}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody></table>{self.pagination_html()}</div>"
        )

    def _query(self, *drop: str) -> str:
        """This request's non-empty parameters without `drop`, URL-encoded, for the table's links."""
        request = getattr(self, "request", None)
        if request is None:
            return ""
        return urlencode(
            [(key, value) for key, values in request.GET.lists() if key not in drop for value in values if value != ""]
        )

    def _link(self, query: str, **extra) -> str:
        """An escaped `?query` with `extra` parameters appended."""
        tail = urlencode(extra)
        return escape("?" + (f"{query}&{tail}" if query and tail else query or tail))

    def head_html(self) -> str:
        """Header cells; a sortable column links to this search sorted by it (first page), and the
        sorted column says its direction (class asc/desc for the arrow, aria-sort for screen readers)."""
        query = self._query(self.prefixed_order_by_field, self.prefixed_page_field)
        cells = []
        for column in self.columns:
            if isinstance(column.column, tables.CheckBoxColumn):
                cells.append(
                    '<th scope="col"><input type="checkbox" aria-label="Отметить все на странице" '
                    'data-check-all="ids"></th>'
                )
                continue
            label = escape(str(column.header))
            if not column.orderable:
                cells.append(f'<th scope="col">{label}</th>')
                continue
            alias = column.order_by_alias
            state = ""
            if column.is_ordered:
                direction = "descending" if alias.is_descending else "ascending"
                state = f' aria-sort="{direction}"'
            classes = "orderable" + ((" desc" if alias.is_descending else " asc") if column.is_ordered else "")
            href = self._link(query, **{self.prefixed_order_by_field: alias.next})
            cells.append(f'<th scope="col" class="{classes}"{state}><a href="{href}">{label}</a></th>')
        return "".join(cells)

    def pagination_html(self) -> str:
        """Previous / numbers / next, capped at max_page. The lazy paginator knows only whether one more
        page exists, so an ellipsis after the numbers says that there may be more."""
        page = getattr(self, "page", None)
        if page is None:
            return ""
        number, cap = page.number, self.max_page or page.number + 1
        has_next = page.has_next() and number < cap
        if number == 1 and not has_next:
            return ""
        query = self._query(self.prefixed_page_field)
        field = self.prefixed_page_field
        last = min(self.paginator.num_pages, cap)
        first_shown = max(1, min(number - PAGE_LINKS // 2, last - PAGE_LINKS + 1))
        numbers = range(first_shown, min(last, first_shown + PAGE_LINKS - 1) + 1)
        items = []
        if number > 1:
            items.append(
                f'<li class="previous"><a href="{self._link(query, **{field: number - 1})}" rel="prev">'
                "предыдущая</a></li>"
            )
        if first_shown > 1:
            items.append(f'<li><a href="{self._link(query, **{field: 1})}">1</a></li>')
            if first_shown > 2:
                items.append('<li><span aria-hidden="true">…</span></li>')
        for p in numbers:
            if p == number:
                items.append(
                    f'<li class="active"><a href="{self._link(query, **{field: p})}" aria-current="page">{p}</a></li>'
                )
            else:
                items.append(f'<li><a href="{self._link(query, **{field: p})}">{p}</a></li>')
        is_last = getattr(self.paginator, "is_last_page", lambda n: n == self.paginator.num_pages)
        if has_next and numbers[-1] < cap and not is_last(numbers[-1]):
            items.append('<li><span aria-hidden="true">…</span></li>')
        if has_next:
            items.append(
                f'<li class="next"><a href="{self._link(query, **{field: number + 1})}" rel="next">следующая</a></li>'
            )
        return f'<nav aria-label="Страницы результатов"><ul class="pagination">{"".join(items)}</ul></nav>'

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
