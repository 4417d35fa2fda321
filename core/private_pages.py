"""``Cache-Control: no-store`` on everything private, decided once for every view.

A page is private when it is served to a signed-in user (the journal, tickets, chat, saved searches,
extracts, export jobs... and every public page too, whose header names the user), to a session that
holds data (an anonymous visitor's export jobs or ticket look-up), or to a request carrying an
Authorization header (a partner token, whose answers may hold personal data). Such an answer must
not stay in a browser's cache or history for the next user of a shared computer, nor in a proxy.
A per-view decorator would be forgotten on the next private page; this middleware cannot be, and
tests/core/test_private_pages.py walks every URL pattern to prove it.
"""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers


def is_private(request) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return True
    session = getattr(request, "session", None)
    if session is not None and session.accessed and not session.is_empty():
        return True
    return "HTTP_AUTHORIZATION" in request.META


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if is_private(request) and "no-store" not in response.get("Cache-Control", ""):
            add_never_cache_headers(response)
        return response
