from django.urls import include, path

from dashboard import views
from tasks import views as tasks_views
from topology import metrics
from topology import views as topology_views
from topology.history.api import HistoryView, PastTopologyView
from topology.watches.views import watches_page

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("map/", topology_views.topology_map, name="map"),
    path("project/", views.switch_project, name="switch-project"),
    path("floating-ips/", tasks_views.floating_ips, name="floating-ips"),
    path("routers/", tasks_views.routers, name="routers"),
    path("security-groups/", tasks_views.security_groups, name="security-groups"),
    path("jobs/", tasks_views.jobs, name="jobs"),
    path("watches/", watches_page, name="watches"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("api/v1/topology/history/", HistoryView.as_view(), name="api-topology-history"),
    path("api/v1/topology/history/<int:revision>/", PastTopologyView.as_view(), name="api-topology-past"),
    path("api/v1/", include("topology.urls")),
    path("api/v1/", include("tasks.urls")),
]
