from django.urls import include, path

from dashboard import views
from topology import views as topology_views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("map/", topology_views.topology_map, name="map"),
    path("project/", views.switch_project, name="switch-project"),
    path("api/v1/", include("topology.urls")),
]
