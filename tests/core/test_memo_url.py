"""{% url %} with literal arguments is reversed once per process (core/templatetags/memo_url.py)."""

from django.template import Context, Engine, Template
from django.test import RequestFactory
from django.urls import reverse, set_script_prefix

from core.templatetags import memo_url


def render(source: str, **context) -> str:
    return Template(source).render(Context(context))


def test_the_builtin_url_tag_is_the_memoizing_one():
    node = Template("{% url 'registry:search' %}").nodelist[0]
    assert isinstance(node, memo_url.MemoURLNode) and node.key is not None
    assert "core.templatetags.memo_url" in Engine.get_default().builtins


def test_literal_urls_match_reverse_and_are_remembered(monkeypatch):
    memo_url._reversed.clear()
    assert render("{% url 'registry:search' %}") == reverse("registry:search")
    assert render("{% url 'registry:profile' '0000000001' %}") == reverse("registry:profile", args=["0000000001"])
    assert len(memo_url._reversed) == 2
    calls = []
    monkeypatch.setattr(memo_url.defaulttags.URLNode, "render", lambda self, context: calls.append(1) or "x")
    assert render("{% url 'registry:search' %}") == reverse("registry:search")  # from memory
    assert calls == []


def test_variables_filters_and_as_are_djangos_own():
    number = "0000000002"
    assert render("{% url 'registry:profile' number %}", number=number) == reverse("registry:profile", args=[number])
    assert render("{% url 'registry:profile' number %}", number="0000000003").endswith("/0000000003/")
    assert render("{% url 'registry:search' as link %}[{{ link }}]") == f"[{reverse('registry:search')}]"
    for source in ("{% url 'registry:profile' number %}", "{% url 'registry:search' as link %}"):
        assert Template(source).nodelist[0].key is None


def test_script_prefix_and_autoescape_are_part_of_the_key():
    memo_url._reversed.clear()
    try:
        set_script_prefix("/medreg/")
        assert render("{% url 'registry:search' %}") == "/medreg/registry/"
    finally:
        set_script_prefix("/")
    assert render("{% url 'registry:search' %}") == "/registry/"
    request = RequestFactory().get("/")
    request.current_app = "admin"
    context = Context({"request": request}, autoescape=False)
    context.request = request
    assert Template("{% url 'admin:index' %}").render(context) == reverse("admin:index", current_app="admin")
