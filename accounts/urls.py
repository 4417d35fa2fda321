from django.urls import path

from . import views, views_certificate, views_registration

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/verify/", views.login_verify, name="login_verify"),
    path("login/phone/", views.login_phone, name="login_phone"),
    path("login/certificate/", views_certificate.certificate_login, name="certificate_login"),
    path("register/", views_registration.register, name="register"),
    path("logout/", views.logout_view, name="logout"),
    path("logout/everywhere/", views.logout_everywhere_view, name="logout_everywhere"),
    path("recover/", views.recover, name="recover"),
    path("recover/code/", views.recover_code, name="recover_code"),
    path("recover/<str:uidb64>/<str:token>/", views.recover_email, name="recover_email"),
    path("security/", views.security, name="security"),
    path("journal/", views.journal, name="journal"),
    path("journal/<int:pk>/", views.journal_entry, name="journal_entry"),
]
