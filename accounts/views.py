from django.contrib.auth import views as auth_views
from django.urls import reverse

from .forms import LoginForm


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        if self.request.user.is_staff:
            return reverse("admin:index")
        return super().get_default_redirect_url()


login_view = LoginView.as_view()
logout_view = auth_views.LogoutView.as_view()
