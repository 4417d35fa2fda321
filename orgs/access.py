"""Who is in the organization cabinet: a signed-in user with an active membership of the organization
chosen for this session (orgs.selectors.SESSION_KEY); a user who serves exactly one organization has it
chosen without asking. Anyone else gets a 404 for every cabinet page, so the pages do not reveal
which organizations exist."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404

from . import selectors


def current_membership(request):
    """The active membership of the organization chosen in this session, or the only one; None otherwise."""
    chosen = request.session.get(selectors.SESSION_KEY)
    membership = selectors.membership_for(user=request.user, organization_id=chosen) if chosen else None
    if membership is None:
        memberships = selectors.memberships_of(user=request.user)
        if len(memberships) != 1:
            return None
        membership = memberships[0]
        request.session[selectors.SESSION_KEY] = membership.organization_id
    return membership


def cabinet_required(view):
    """Sets request.org_membership; a visitor without a membership gets a 404."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        membership = current_membership(request)
        if membership is None:
            raise Http404("Нет доступа к кабинету организации")
        request.org_membership = membership
        return view(request, *args, **kwargs)

    return wrapped
