"""The staff list's rows written in Python are the markup the template wrote, escaped."""

import datetime as dt
from decimal import Decimal

from django.template import engines
from django.test.html import parse_html

from orgs.staff_table import staff_rows_html
from registry.models import AdmissionStatus, Employment
from tests.factories import EmploymentFactory, WorkerFactory

# The rows as templates/orgs/staff.html wrote them before they moved to Python.
TEMPLATE = """{% for e in rows %}
    <tr data-employment="{{ e.pk }}">
      <td><a href="{% url 'orgs:worker' e.worker_id %}">{{ e.worker.full_name }}</a><br><span class="muted">{{ e.worker.registry_number_display }}</span></td>
      <td>{{ e.position.name }}{% if e.specialty %}<br><span class="muted">{{ e.specialty.name }}</span>{% endif %}</td>
      <td>{{ e.department|default:"—" }}</td>
      <td>{{ e.rate }}</td>
      <td>с {{ e.started_on|date:"d.m.Y" }}{% if e.ended_on %} по {{ e.ended_on|date:"d.m.Y" }}{% endif %}</td>
      <td><span class="badge badge-{{ e.worker.admission_status }}">{{ e.worker.get_admission_status_display }}</span>{% if e.worker.admission_valid_until %}<br><span class="muted">до {{ e.worker.admission_valid_until|date:"d.m.Y" }}</span>{% endif %}</td>
    </tr>
  {% empty %}<tr><td colspan="6">Никого не нашлось.</td></tr>{% endfor %}"""  # noqa: E501


def _rows():
    return list(Employment.objects.select_related("worker", "position", "specialty").order_by("id"))


def test_rows_equal_the_template_markup(db):
    odd = WorkerFactory(last_name="О'Нил <b>", admission_status=AdmissionStatus.EXPIRING)
    odd.admission_valid_until = dt.date(2027, 1, 9)
    odd.save()
    EmploymentFactory(worker=odd, department='Хирургия & "реанимация"', rate=Decimal("0.25"))
    EmploymentFactory(specialty=None, ended_on=dt.date(2021, 5, 31), dismissal_reason="", rate=Decimal("1.5"))
    rows = _rows()
    expected = engines["django"].from_string(TEMPLATE).render({"rows": rows})
    html = staff_rows_html(rows)
    assert parse_html(html) == parse_html(expected)
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert "0,25" in html and "по 31.05.2021" in html and "до 09.01.2027" in html


def test_no_rows(db):
    assert str(staff_rows_html([])) == '<tr><td colspan="6">Никого не нашлось.</td></tr>'
