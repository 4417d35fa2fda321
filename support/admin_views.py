"""Staff-only views behind the support desk admin: the audited jump to a worker's record and
ticket attachment downloads. Their URLs are registered by `TicketAdmin.get_urls()`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.audit import audit_record
from core.models import AuditEntry
from verification.documents import DocumentUnavailable, document_response

from .models import Ticket, TicketMessage


def _require_ticket_view(request) -> None:
    if not (request.user.has_perm("support.view_ticket") or request.user.has_perm("support.change_ticket")):
        raise PermissionDenied


@never_cache
@require_GET
@staff_member_required
def open_worker_record(request, ticket_id: int):
    """Open the registry record of the worker a ticket is about; every such view is journaled."""
    _require_ticket_view(request)
    # Without the right to see the record the admin would answer 403 after the redirect, and the
    # journal would hold a view that never happened.
    if not (
        request.user.has_perm("registry.view_medicalworker") or request.user.has_perm("registry.change_medicalworker")
    ):
        raise PermissionDenied
    ticket = get_object_or_404(Ticket.objects.select_related("worker"), pk=ticket_id)
    worker = ticket.worker
    if worker is None:
        raise Http404("У обращения нет связанной записи в регистре.")
    audit_record(
        event=AuditEntry.Event.DATA_VIEWED,
        subject=worker.user,
        actor=request.user,
        object_type="worker",
        object_id=worker.registry_number,
        details={"via_ticket": ticket.number},
        request=request,
    )
    return redirect("admin:registry_medicalworker_change", worker.pk)


@never_cache
@require_GET
@staff_member_required
def ticket_attachment(request, message_id: int):
    """Download the file attached to a ticket message (the document service journals the access)."""
    _require_ticket_view(request)
    message = get_object_or_404(
        TicketMessage.objects.select_related("attachment"), pk=message_id, attachment__isnull=False
    )
    try:
        return document_response(document=message.attachment, request=request, actor=request.user)
    except DocumentUnavailable:
        messages.error(request, "Файл вложения недоступен в хранилище. Сообщите администратору.")
        return redirect("admin:support_ticket_change", message.ticket_id)
