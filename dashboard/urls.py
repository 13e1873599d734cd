from django.urls import include, path

from dashboard import views

urlpatterns = [
    path("", views.home, name="home"),
    path("api/v1/", include("topology.urls")),
]
