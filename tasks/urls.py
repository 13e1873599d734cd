from django.urls import path

from tasks import api, api_secgroups

urlpatterns = [
    path("floating-ips/", api.FloatingIPListView.as_view(), name="api-floating-ips"),
    path("floating-ips/<str:pk>/", api.FloatingIPView.as_view(), name="api-floating-ip"),
    path("floating-ips/<str:pk>/targets/", api.FloatingIPTargetsView.as_view(), name="api-floating-ip-targets"),
    path("floating-ips/<str:pk>/associate/", api.FloatingIPAssociateView.as_view(), name="api-floating-ip-associate"),
    path(
        "floating-ips/<str:pk>/disassociate/",
        api.FloatingIPDisassociateView.as_view(),
        name="api-floating-ip-disassociate",
    ),
    path("routers/", api.RouterListView.as_view(), name="api-routers"),
    path("routers/<str:router_id>/gateway/", api.RouterGatewayView.as_view(), name="api-router-gateway"),
    path("routers/<str:router_id>/repair/", api.RouterRepairView.as_view(), name="api-router-repair"),
    path("routers/<str:router_id>/interfaces/", api.RouterInterfacesView.as_view(), name="api-router-interfaces"),
    path(
        "routers/<str:router_id>/interfaces/<str:subnet_id>/",
        api.RouterInterfaceView.as_view(),
        name="api-router-interface",
    ),
    path("security-groups/", api_secgroups.SecurityGroupListView.as_view(), name="api-security-groups"),
    path(
        "security-groups/<str:pk>/open-icmp-ssh/",
        api_secgroups.SecurityGroupOpenView.as_view(),
        name="api-security-group-open",
    ),
    path(
        "security-groups/<str:pk>/rules/<str:rule_id>/",
        api_secgroups.SecurityGroupRuleView.as_view(),
        name="api-security-group-rule",
    ),
    path("jobs/", api.JobListView.as_view(), name="api-jobs"),
    path("jobs/<int:pk>/", api.JobView.as_view(), name="api-job"),
    path("audit/", api.AuditView.as_view(), name="api-audit"),
]
