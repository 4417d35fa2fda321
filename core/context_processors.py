from django.conf import settings


def site(request):
    return {"SUPPORT_PHONE": settings.SUPPORT_PHONE, "SITE_NAME": "Медрег"}
