from django.urls import path

from . import views

app_name = "support"

urlpatterns = [
    path("", views.help_page, name="help"),
    path("tickets/", views.my_tickets, name="my_tickets"),
    path("tickets/new/", views.ticket_new, name="ticket_new"),
    path("tickets/lookup/", views.ticket_lookup, name="ticket_lookup"),
    path("tickets/<str:number>/", views.ticket_detail, name="ticket_detail"),
    path("tickets/<str:number>/attachments/<int:message_id>/", views.ticket_attachment, name="ticket_attachment"),
    path("chat/", views.chat, name="chat"),
    path("chat/messages/", views.chat_messages, name="chat_messages"),
    path("chat/send/", views.chat_send, name="chat_send"),
]
