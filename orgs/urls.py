from django.urls import path

from . import forecast, uploads

app_name = "orgs"

urlpatterns = [
    path("uploads/", uploads.upload_list, name="uploads"),
    path("uploads/<uuid:job_id>/", uploads.upload_detail, name="upload_detail"),
    path("uploads/<uuid:job_id>/report/", uploads.upload_report, name="upload_report"),
    path("expiry/", forecast.expiry_page, name="expiry"),
]
