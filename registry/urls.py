from django.urls import path

from . import views

app_name = "registry"

urlpatterns = [
    path("", views.search_page, name="search"),
    path("<str:registry_number>/", views.profile, name="profile"),
]
