from django.urls import path

from . import views
from .exports import views as export_views
from .saved import views as saved_views
from .search import views as search_views

app_name = "registry"

urlpatterns = [
    path("", search_views.search_page, name="search"),
    path("organizations/suggest/", search_views.organization_suggest, name="organization_suggest"),
    # Before the profile pattern, which would take "export.csv" for a registry number.
    path("export.csv", export_views.export_csv, name="export_csv"),
    path("export.xlsx", export_views.export_xlsx, name="export_xlsx"),
    path("export/jobs/<uuid:job_id>/", export_views.export_job, name="export_job"),
    path("export/jobs/<uuid:job_id>/download/", export_views.export_job_download, name="export_job_download"),
    path("saved/", saved_views.saved_list, name="saved"),
    path("saved/new/", saved_views.saved_create, name="saved_create"),
    path("saved/<int:pk>/notify/", saved_views.saved_notify, name="saved_notify"),
    path("saved/<int:pk>/delete/", saved_views.saved_delete, name="saved_delete"),
    path("watch/<str:registry_number>/", saved_views.watch, name="watch"),
    path("<str:registry_number>/", views.profile, name="profile"),
]
