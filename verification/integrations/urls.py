from django.urls import path, re_path

from verification.integrations import views

urlpatterns = [
    re_path(r"^sessions/?$", views.session_list, name="api_sessions"),
    path("sessions/<str:code>", views.session_detail, name="api_session"),
    path("openapi.json", views.openapi_document, name="api_openapi"),
    path("<path:rest>", views.not_found),
]
