from django.urls import path

from . import views, views_export, views_saved

app_name = "registry"

urlpatterns = [
    path("", views.search_page, name="search"),
    path("organizations/suggest/", views.organization_suggest, name="organization_suggest"),
    # Before the profile pattern, which would take "export.csv" for a registry number.
    path("export.csv", views_export.export_csv, name="export_csv"),
    path("export.xlsx", views_export.export_xlsx, name="export_xlsx"),
    path("export/jobs/<uuid:job_id>/", views_export.export_job, name="export_job"),
    path("export/jobs/<uuid:job_id>/download/", views_export.export_job_download, name="export_job_download"),
    path("saved/", views_saved.saved_list, name="saved"),
    path("saved/new/", views_saved.saved_create, name="saved_create"),
    path("saved/<int:pk>/notify/", views_saved.saved_notify, name="saved_notify"),
    path("saved/<int:pk>/delete/", views_saved.saved_delete, name="saved_delete"),
    path("watch/<str:registry_number>/", views_saved.watch, name="watch"),
    path("<str:registry_number>/", views.profile, name="profile"),
]
