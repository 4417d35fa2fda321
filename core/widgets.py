"""Form widgets that render in Python.

Django's ``Select`` renders every ``<option>`` through its own template: about 0.35 ms an option in
this project's measurements, so a filter form with two selects of 60–70 options each spent 50 ms
per request on them (the organization's staff list, ``make bench`` → ``bench_org``). ``QuickSelect``
writes the same markup in Python: every value and label is escaped, the element's
attributes are the ones Django would render (``id``, ``name``, ``required``, ``aria-*``).
"""

from __future__ import annotations

from django import forms
from django.forms.utils import flatatt
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


class QuickSelect(forms.Select):
    """A single ``<select>`` whose options are flat (value, label) pairs. Grouped choices
    (optgroups) fall back to Django's template rendering."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        if any(isinstance(label, (list, tuple)) for _, label in self.choices):
            return super().render(name, value, attrs, renderer)
        final = self.build_attrs(self.attrs, attrs)
        final["name"] = name
        options = "".join(
            f'<option value="{escape(option)}"{mark}>{escape(label)}</option>'
            for option, mark, label in self._options(value)
        )
        # Every value and label is escaped above; flatatt escapes the attributes, writes True as a bare
        # attribute and drops False and None, as Django's widget template does.
        return mark_safe(f"<select{flatatt(final)}>{options}</select>")  # noqa: S308

    def _options(self, value):
        """(value, " selected" or "", label) per choice; as in Django, only the first option that
        matches the value is selected."""
        wanted = set(self.format_value(value))
        chosen = False
        for option, label in self.choices:
            option = "" if option is None else str(option)
            mark = option in wanted and not chosen
            chosen = chosen or mark
            yield option, " selected" if mark else "", label
