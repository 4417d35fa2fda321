from django.urls import path

from . import views

app_name = "extracts"

urlpatterns = [
    path("extracts/", views.extract_list, name="list"),
    path("extracts/registry.pdf", views.registry_pdf, name="registry_pdf"),
    path("extracts/qualification.pdf", views.qualification_pdf, name="qualification_pdf"),
    path("extracts/<str:code>.pdf", views.extract_pdf, name="copy_pdf"),
    path("verify/", views.verify_start, name="verify_start"),
    path("verify/<str:code>/", views.verify, name="verify"),
]
