"""«Помощь и поддержка»: help page, tickets, anonymous lookup, chat."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import ratelimit
from core.http import client_ip
from registry.models import MedicalWorker
from verification.documents import document_response

from . import services
from .forms import NUMBER_RE, ChatForm, LookupForm, ReplyForm, TicketForm
from .models import ChatConversation, Ticket, TicketMessage

ANON_TICKETS_KEY = "support.anon_tickets"
CREATE_LIMITS = ({"limit": 10, "period": 3600},)
LOOKUP_LIMIT = {"limit": 20, "period": 3600}


@require_GET
def help_page(request):
    return render(request, "support/help.html", {"support_hours": settings.SUPPORT_HOURS})


def _ticket_for(request, number: str) -> Ticket:
    """The ticket if this visitor may see it: its owner, or an anonymous visitor who proved the
    contact in this session. Anyone else gets 404, exactly as for a number that does not exist."""
    if not NUMBER_RE.match(number):
        raise Http404  # also keeps NUL bytes and other junk away from the database
    ticket = get_object_or_404(Ticket.objects.select_related("follows", "merged_into"), number=number)
    if request.user.is_authenticated:
        # A session's anonymous tickets do not carry over to whoever logs in on the same browser.
        if ticket.user_id == request.user.pk:
            return ticket
        raise Http404
    if ticket.user_id is None and ticket.pk in request.session.get(ANON_TICKETS_KEY, []):
        return ticket
    raise Http404


def _remember_anonymous(request, ticket: Ticket) -> None:
    allowed = request.session.get(ANON_TICKETS_KEY, [])
    if ticket.pk not in allowed:
        request.session[ANON_TICKETS_KEY] = [*allowed, ticket.pk][-20:]


def _initial_for(user) -> dict:
    if not user.is_authenticated:
        return {}
    worker = MedicalWorker.objects.filter(user=user).only("registry_number").first()
    return {
        "full_name": user.full_name,
        "inn_or_snils": user.snils or "",
        "account_number": worker.registry_number_display if worker else "",
    }


@never_cache
@require_http_methods(["GET", "POST"])
def ticket_new(request):
    logged_in = request.user.is_authenticated
    form = TicketForm(
        request.POST or None, request.FILES or None, logged_in=logged_in, initial=_initial_for(request.user)
    )
    if request.method == "POST":
        idents = [("ip", client_ip(request) or "")]
        if logged_in:
            idents.append(("user", str(request.user.pk)))
        waits = [ratelimit.hit(scope=f"ticket:{kind}", ident=ident, limit=10, period=3600) for kind, ident in idents]
        if any(waits):
            form.add_error(None, "Слишком много обращений за час. Попробуйте позже или позвоните в службу поддержки.")
        elif form.is_valid():
            data = {k: v for k, v in form.cleaned_data.items() if k != "screenshot"}
            try:
                ticket = services.ticket_create(
                    data=services.TicketInput(**data),
                    user=request.user,
                    screenshot=form.cleaned_data.get("screenshot"),
                    request=request,
                )
            except services.SupportError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                if not logged_in:
                    _remember_anonymous(request, ticket)
                messages.success(
                    request,
                    f"Обращение зарегистрировано. Номер: {ticket.number}. Мы отправили его на указанные контакты.",
                )
                return redirect("support:ticket_detail", number=ticket.number)
    return render(request, "support/ticket_new.html", {"form": form})


@login_required
@require_GET
def my_tickets(request):
    tickets = Ticket.objects.filter(user=request.user).order_by("-created_at")[:200]
    return render(request, "support/my_tickets.html", {"tickets": tickets})


@never_cache
@require_http_methods(["GET", "POST"])
def ticket_detail(request, number: str):
    ticket = _ticket_for(request, number)
    form = ReplyForm()
    if request.method == "POST":
        form = ReplyForm(request.POST)
        if form.is_valid():
            try:
                services.ticket_reply_user(ticket=ticket, user=request.user, body=form.cleaned_data["body"])
            except services.SupportError as exc:
                form.add_error("body", exc.message)
            else:
                messages.success(request, "Сообщение отправлено.")
                return redirect("support:ticket_detail", number=ticket.number)
    thread = ticket.messages.filter(internal=False).select_related("author", "attachment")
    history = ticket.status_changes.all()
    services.ticket_mark_seen(ticket=ticket)
    return render(
        request,
        "support/ticket_detail.html",
        {
            "ticket": ticket,
            "thread": thread,
            "history": history,
            "form": form,
            "can_reply": ticket.status != Ticket.Status.CLOSED,
        },
    )


@require_GET
def ticket_attachment(request, number: str, message_id: int):
    ticket = _ticket_for(request, number)
    message = get_object_or_404(
        TicketMessage.objects.select_related("attachment"),
        pk=message_id,
        ticket=ticket,
        internal=False,
        attachment__isnull=False,
    )

    # _ticket_for has checked that this visitor may read the ticket and so its public attachments.
    return document_response(
        document=message.attachment, request=request, actor=request.user, granted_by="support_ticket"
    )


@never_cache
@require_http_methods(["GET", "POST"])
def ticket_lookup(request):
    form = LookupForm(request.POST or None)
    if request.method == "POST":
        wait = ratelimit.hit(scope="ticket-lookup", ident=client_ip(request) or "", **LOOKUP_LIMIT)
        if wait:
            form.add_error(None, f"Слишком много попыток. Попробуйте через {wait // 60 + 1} мин.")
        elif form.is_valid():
            ticket = services.ticket_lookup(number=form.cleaned_data["number"], contact=form.cleaned_data["contact"])
            if ticket is not None and ticket.user_id is None:
                _remember_anonymous(request, ticket)
                return redirect("support:ticket_detail", number=ticket.number)
            if ticket is not None and request.user.is_authenticated and ticket.user_id == request.user.pk:
                return redirect("support:ticket_detail", number=ticket.number)
            # One answer for "no such number" and "wrong contact": the form must not confirm numbers.
            form.add_error(
                None,
                "Обращение не найдено: проверьте номер и контакт. Если обращение создано из личного кабинета, "
                "войдите в кабинет.",
            )
    return render(request, "support/lookup.html", {"form": form})


# --- Chat ---------------------------------------------------------------------------------------------

CHAT_PAGE = 100


def _open_chat(user) -> ChatConversation | None:
    return ChatConversation.objects.filter(user=user, status=ChatConversation.Status.OPEN).first()


@login_required
@require_GET
def chat(request):
    conversation = _open_chat(request.user)
    chat_messages = list(conversation.messages.order_by("-id")[:CHAT_PAGE])[::-1] if conversation else []
    return render(
        request, "support/chat.html", {"chat_messages": chat_messages, "form": ChatForm(), "conversation": conversation}
    )


@login_required
@require_GET
def chat_messages(request):
    """htmx polling: messages after the given id (the page appends them)."""
    try:
        after = int(request.GET.get("after", "0"))
    except ValueError:
        after = 0
    conversation = _open_chat(request.user)
    new = list(conversation.messages.filter(id__gt=after).order_by("id")[:CHAT_PAGE]) if conversation else []
    return render(request, "support/_chat_messages.html", {"chat_messages": new, "after": after})


@login_required
@require_POST
def chat_send(request):
    form = ChatForm(request.POST)
    error = None
    if ratelimit.hit(scope="chat", ident=str(request.user.pk), limit=30, period=60):
        error = "Слишком много сообщений подряд. Подождите минуту."
    elif form.is_valid():
        try:
            services.chat_post(user=request.user, body=form.cleaned_data["body"])
        except services.SupportError as exc:
            error = exc.message
    else:
        error = form.errors["body"][0]
    if request.htmx:
        try:
            after = max(0, int(request.POST.get("after", "0")))
        except ValueError:
            after = 0
        conversation = _open_chat(request.user)
        new = list(conversation.messages.filter(id__gt=after).order_by("id")) if conversation else []
        return render(
            request,
            "support/_chat_send_result.html",
            {"chat_messages": new, "error": error, "form": ChatForm(), "after": after},
        )
    if error:
        messages.error(request, error)
    return redirect("support:chat")
