from django.urls import path

from . import views

app_name = "verification"

urlpatterns = [
    path("", views.cabinet, name="cabinet"),
    path("identity/", views.identity, name="identity"),
    path("identity/<int:pk>/", views.identity_detail, name="identity_detail"),
    path("qualification/", views.qualification, name="qualification"),
    path("qualification/<int:pk>/", views.qualification_detail, name="qualification_detail"),
    path("correction/", views.correction, name="correction"),
    path("correction/<int:pk>/", views.correction_detail, name="correction_detail"),
    path("employments/<int:pk>/dispute/", views.employment_dispute, name="employment_dispute"),
    path("documents/<uuid:pk>/", views.document_download, name="document"),
    path("notifications/", views.notifications, name="notifications"),
]
