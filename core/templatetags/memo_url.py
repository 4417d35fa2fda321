"""{% url %} with only literal arguments, reversed once per process.

A template builtin (settings.TEMPLATES), so it stands in for Django's tag in every template: a page such as
the register search reverses a dozen fixed URLs (header, forms, export links) on each request, a few
percent of its Python time. The URL configuration does not change while the process runs; everything
else reverse() depends on (script prefix, current app, language, autoescaping) is part of the key.
Tags with variables, filters or `as` are Django's own.
"""

from django.template import Library, Variable, defaulttags
from django.urls import get_script_prefix
from django.utils.translation import get_language

register = Library()
_reversed: dict[tuple, str] = {}


def _literal(expression) -> bool:
    return not expression.filters and not isinstance(expression.var, Variable)


class MemoURLNode(defaulttags.URLNode):
    def __init__(self, node: defaulttags.URLNode):
        super().__init__(node.view_name, node.args, node.kwargs, node.asvar)
        expressions = [node.view_name, *node.args, *node.kwargs.values()]
        self.key = None
        if node.asvar is None and all(_literal(e) for e in expressions):
            self.key = (
                node.view_name.var,
                tuple(a.var for a in node.args),
                tuple(sorted((k, v.var) for k, v in node.kwargs.items())),
            )

    def render(self, context):
        if self.key is None:
            return super().render(context)
        try:  # as URLNode.render finds it
            current_app = context.request.current_app
        except AttributeError:
            current_app = getattr(getattr(getattr(context, "request", None), "resolver_match", None), "namespace", None)
        key = (*self.key, get_script_prefix(), current_app, get_language(), context.autoescape)
        url = _reversed.get(key)
        if url is None:
            url = _reversed[key] = super().render(context)
        return url


@register.tag
def url(parser, token):
    return MemoURLNode(defaulttags.url(parser, token))
