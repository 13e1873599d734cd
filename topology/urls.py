from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from topology import api, api_hosts
from topology.probes.api import HostProbeView
from topology.watches.api import WatchDetailView, WatchListView

urlpatterns = [
    path("topology/", api.TopologyView.as_view(), name="api-topology"),
    path("topology/search/", api_hosts.SearchView.as_view(), name="api-topology-search"),
    path("topology/hosts/<str:host>/", api_hosts.HostContentView.as_view(), name="api-topology-host"),
    path("topology/refresh/", api.RefreshView.as_view(), name="api-topology-refresh"),
    path("status/", api.StatusView.as_view(), name="api-status"),
    path("path/", api.PathView.as_view(), name="api-path"),
    path("path/active/", api.ActivePathView.as_view(), name="api-path-active"),
    path("watches/", WatchListView.as_view(), name="api-watches"),
    path("watches/<int:pk>/", WatchDetailView.as_view(), name="api-watch"),
    path("agents/report/", api.AgentReportView.as_view(), name="api-agent-report"),
    path("agents/whoami/", api.AgentWhoamiView.as_view(), name="api-agent-whoami"),
    path("hosts/<str:host>/probes/", HostProbeView.as_view(), name="api-host-probes"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
]
