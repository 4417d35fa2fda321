"""QuickSelect writes the markup Django's Select writes, escaped, without a template per option."""

import pytest
from django import forms
from django.test import SimpleTestCase

from core.widgets import QuickSelect

CHOICES = [("", "Любая"), (1, "Врач <терапевт>"), (2, 'Медсестра "палатная"'), (3, "Фельдшер & водитель")]


class _Form(forms.Form):
    quick = forms.TypedChoiceField(choices=CHOICES, coerce=int, required=False, widget=QuickSelect)
    plain = forms.TypedChoiceField(choices=CHOICES, coerce=int, required=False)
    quick_required = forms.ChoiceField(choices=CHOICES, widget=QuickSelect)
    plain_required = forms.ChoiceField(choices=CHOICES)


class QuickSelectTests(SimpleTestCase):
    def _pair(self, data, quick="quick", plain="plain"):
        form = _Form(data)
        form.is_valid()
        html_quick = str(form[quick]).replace(f"id_{quick}", "X").replace(f'name="{quick}"', 'name="N"')
        html_plain = str(form[plain]).replace(f"id_{plain}", "X").replace(f'name="{plain}"', 'name="N"')
        return html_quick, html_plain

    def test_same_markup_as_django_for_every_value(self):
        for value in ("", "1", "2", "3", "99", "<script>"):
            with self.subTest(value=value):
                quick, plain = self._pair({"quick": value, "plain": value})
                self.assertHTMLEqual(quick, plain)

    def test_unbound_and_required(self):
        quick, plain = self._pair(None, "quick_required", "plain_required")
        self.assertHTMLEqual(quick, plain)
        self.assertIn("required", quick)  # a placeholder first: Django marks the select required
        quick, plain = self._pair({"quick_required": "2", "plain_required": "2"}, "quick_required", "plain_required")
        self.assertHTMLEqual(quick, plain)

    def test_labels_and_values_escaped(self):
        widget = QuickSelect(choices=[('"><script>', "<b>x</b>")])
        html = widget.render("f", '"><script>')
        self.assertNotIn("<script>", html)
        self.assertNotIn("<b>", html)
        self.assertIn('value="&quot;&gt;&lt;script&gt;" selected', html)

    def test_only_the_first_matching_option_is_selected(self):
        html = QuickSelect(choices=[("a", "A"), ("a", "A again")]).render("f", "a")
        self.assertEqual(html.count(" selected"), 1)

    def test_grouped_choices_fall_back_to_django(self):
        grouped = [("Группа", [("1", "Один"), ("2", "Два")])]
        self.assertHTMLEqual(
            QuickSelect(choices=grouped).render("f", "2", attrs={"id": "i"}),
            forms.Select(choices=grouped).render("f", "2", attrs={"id": "i"}),
        )


@pytest.mark.parametrize("value", [None, 1, "1"])
def test_value_types_compare_as_text(value):
    html = QuickSelect(choices=[(1, "Один"), (2, "Два")]).render("f", value)
    assert ('value="1" selected' in html) is (value is not None)
