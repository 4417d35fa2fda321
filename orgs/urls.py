from django.urls import path

from . import forecast, uploads, views

app_name = "orgs"

urlpatterns = [
    path("", views.staff, name="staff"),
    path("choose/", views.choose, name="choose"),
    path("export.csv", views.export, {"fmt": "csv"}, name="export_csv"),
    path("export.xlsx", views.export, {"fmt": "xlsx"}, name="export_xlsx"),
    path("hire/", views.hire, name="hire"),
    path("hire/new/", views.hire_new, name="hire_new"),
    path("workers/<int:pk>/", views.worker, name="worker"),
    path("employments/<int:pk>/transfer/", views.transfer, name="transfer"),
    path("employments/<int:pk>/rate/", views.change_rate, name="change_rate"),
    path("employments/<int:pk>/dismiss/", views.dismiss, name="dismiss"),
    path("uploads/", uploads.upload_list, name="uploads"),
    path("uploads/<uuid:job_id>/", uploads.upload_detail, name="upload_detail"),
    path("uploads/<uuid:job_id>/report/", uploads.upload_report, name="upload_report"),
    path("expiry/", forecast.expiry_page, name="expiry"),
]
