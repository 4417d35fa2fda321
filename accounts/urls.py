from django.urls import path

from .views import certificate, login, recovery, registration, security

app_name = "accounts"

urlpatterns = [
    path("login/", login.login_view, name="login"),
    path("login/verify/", login.login_verify, name="login_verify"),
    path("login/phone/", login.login_phone, name="login_phone"),
    path("login/certificate/", certificate.certificate_login, name="certificate_login"),
    path("register/", registration.register, name="register"),
    path("logout/", login.logout_view, name="logout"),
    path("logout/everywhere/", login.logout_everywhere_view, name="logout_everywhere"),
    path("recover/", recovery.recover, name="recover"),
    path("recover/code/", recovery.recover_code, name="recover_code"),
    path("recover/<str:uidb64>/<str:token>/", recovery.recover_email, name="recover_email"),
    path("security/", security.security, name="security"),
    path("journal/", security.journal, name="journal"),
    path("journal/<int:pk>/", security.journal_entry, name="journal_entry"),
]
