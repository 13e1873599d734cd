"""REST API v1 of security groups: the list (groups, rules, ports), open ICMP/SSH, remove one rule.

The same contract as tasks/api.py's actions: the object is read as the caller
first (another project's group or rule is Neutron's 404, and ours), the job
acts with the caller's token, every request to act is audited.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from tasks import neutron
from tasks.api import ACTION_RESPONSES, ActionView, Refused, get_as_caller
from tasks.models import JobKind
from tasks.secgroup_actions import rule_fields
from tasks.secgroups import list_security_groups
from topology.api import caller_of


class SecurityGroupListView(ActionView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="Security groups with their rules and ports (admin: every project's, with its name)",
    )
    def get(self, request: Request) -> Response:
        caller = caller_of(request)
        return Response({"security_groups": list_security_groups(neutron.reader(request, caller), caller)})


class SecurityGroupOpenView(ActionView):
    action = JobKind.SECGROUP_OPEN

    @extend_schema(
        request=None, responses=ACTION_RESPONSES, summary="Open ICMP and SSH ingress (IPv4) in a security group"
    )
    def post(self, request: Request, pk: str) -> Response:
        get_as_caller(self.conn().network.get_security_group, pk, "Security group")
        return self.queue(JobKind.SECGROUP_OPEN, pk, {})

    @extend_schema(
        request=None,
        responses=ACTION_RESPONSES,
        summary="Remove the ICMP and SSH ingress rules from anywhere (IPv4) of a security group",
    )
    def delete(self, request: Request, pk: str) -> Response:
        self.action = JobKind.SECGROUP_CLOSE
        get_as_caller(self.conn().network.get_security_group, pk, "Security group")
        return self.queue(JobKind.SECGROUP_CLOSE, pk, {})


class SecurityGroupRuleView(ActionView):
    action = JobKind.SECGROUP_RULE_DELETE

    @extend_schema(
        request=None,
        responses=ACTION_RESPONSES,
        summary="Remove one rule from a security group",
        description="Confirmed like the other jobs: the rule gone from Neutron, and its iptables line "
        "gone from the chains of the group's ports on the reporting hosts (a port whose other "
        "groups make the same line keeps it, and is not checked).",
    )
    def delete(self, request: Request, pk: str, rule_id: str) -> Response:
        conn = self.conn()
        get_as_caller(conn.network.get_security_group, pk, "Security group")
        rule = get_as_caller(conn.network.get_security_group_rule, rule_id, "Security group rule")
        if rule.security_group_id != pk:
            raise Refused(404, f"Security group rule {rule_id} could not be found in group {pk}.")
        return self.queue(JobKind.SECGROUP_RULE_DELETE, rule_id, {"security_group_id": pk, "rule": rule_fields(rule)})
