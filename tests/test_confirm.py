"""The confirmation catalogue on agent reports, without a cloud (tasks/confirm.py, tasks/dataplane.py).

The reports are in the agent's shape, their lines copied from a real report
of the lab's controller (qrouter namespace, DNAT rules, iptables_hybrid
chains). The Neutron side is checked against the real lab in
test_actions_confirm_lab.py; here a stand-in Neutron check (it says so)
lets the runner's states be seen: succeeded, unconfirmed, failed, not checked.
The unconfirmed state needs an agent that does not catch up, which the real
lab cannot be made to do on demand: stored reports without the effect do it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tasks import confirm, dataplane
from tasks.dataplane import Observed
from tasks.models import Job, JobKind, JobState
from topology.models import HostReport

ROUTER = "23d78b40-5f59-453e-8365-0ecf1e0c53b6"
QG_PORT = "d1fc19d0-ad00-4000-8000-000000000001"
QR_PORT = "f1ec9509-f300-4000-8000-000000000002"
VM_PORT = "332e18dc-e0b8-4503-b25b-ee8b97691593"


def report(qg: bool = True, dnat: bool = True, qr: bool = True, open_sg: bool = True) -> dict[str, Any]:
    interfaces = [{"name": "lo", "addresses": ["127.0.0.1/8"]}]
    if qr:
        interfaces.append({"name": f"qr-{QR_PORT[:11]}", "addresses": ["10.0.0.1/24"]})
    if qg:
        interfaces.append({"name": f"qg-{QG_PORT[:11]}", "addresses": ["192.168.1.102/24", "192.168.1.96/32"]})
    nat = ["*nat", ":neutron-l3-agent-PREROUTING - [0:0]"]
    if dnat:
        nat.append("[2:168] -A neutron-l3-agent-PREROUTING -d 192.168.1.96/32 -j DNAT --to-destination 10.0.0.127")
    chain = f"neutron-openvswi-i{VM_PORT[:10]}"
    filt = ["*filter", f"[0:0] -A {chain} -m state --state RELATED,ESTABLISHED -j RETURN"]
    if open_sg:
        filt += [f"[0:0] -A {chain} -p icmp -j RETURN", f"[0:0] -A {chain} -p tcp -m tcp --dport 22 -j RETURN"]
    filt.append(f"[0:0] -A {chain} -j neutron-openvswi-sg-fallback")
    return {
        "version": 1,
        "host": "controller",
        "collected_at": "2026-12-02T11:00:00Z",
        "namespaces": [
            {"name": f"qrouter-{ROUTER}", "interfaces": interfaces, "iptables": {"nat": "\n".join(nat), "filter": ""}}
        ],
        "interfaces": [],
        "iptables": {"filter": "\n".join(filt), "nat": ""},
    }


FIP = {"floating_ip_address": "192.168.1.96", "fixed_ip_address": "10.0.0.127", "router_id": ROUTER}


def test_a_floating_ip_is_seen_by_its_dnat_rule_or_its_absence() -> None:
    seen = dataplane.fip_nat_present(FIP, {"controller": report()})
    assert seen == Observed(True, f"DNAT 192.168.1.96 -> 10.0.0.127 in controller:qrouter-{ROUTER}")
    assert not dataplane.fip_nat_present(FIP, {"controller": report(dnat=False)}).ok  # type: ignore[union-attr]
    assert dataplane.fip_nat_present({**FIP, "router_id": "other"}, {"controller": report()}) is None
    gone = dataplane.fip_nat_absent(FIP, {"controller": report(dnat=False)})
    assert gone is not None and gone.ok and "no DNAT for 192.168.1.96" in gone.message
    left = dataplane.fip_nat_absent(FIP, {"controller": report()})
    assert left is not None and not left.ok and f"controller:qrouter-{ROUTER}" in left.message
    assert dataplane.fip_nat_absent(FIP, {}) is None  # no fresh report: nothing seen either way


def test_a_gateway_is_seen_by_its_qg_device_and_an_orphan_qg_fails_the_clear() -> None:
    facts = {"router_id": ROUTER, "gateway_port_id": QG_PORT, "gateway_ips": ["192.168.1.102"]}
    assert dataplane.gateway_device_present(facts, {"controller": report()}).ok  # type: ignore[union-attr]
    assert not dataplane.gateway_device_present(facts, {"controller": report(qg=False)}).ok  # type: ignore[union-attr]
    cleared = {"router_id": ROUTER}
    orphan = dataplane.gateway_devices_only(cleared, {"controller": report()})
    assert orphan is not None and not orphan.ok and f"qg-{QG_PORT[:11]}" in orphan.message
    assert dataplane.gateway_devices_only(cleared, {"controller": report(qg=False)}).ok  # type: ignore[union-attr]
    # the repair keeps the router's own gateway device
    assert dataplane.gateway_devices_only(facts, {"controller": report()}).ok  # type: ignore[union-attr]


def test_an_interface_is_seen_by_its_qr_device_on_the_subnet() -> None:
    facts = {"router_id": ROUTER, "port_id": QR_PORT, "ip_address": "10.0.0.1", "cidr": "10.0.0.0/24"}
    assert dataplane.interface_device_present(facts, {"controller": report()}).ok  # type: ignore[union-attr]
    still = dataplane.interface_device_absent(facts, {"controller": report()})
    assert still is not None and not still.ok and "10.0.0.1/24" in still.message
    assert dataplane.interface_device_absent(facts, {"controller": report(qr=False)}).ok  # type: ignore[union-attr]


def test_security_group_rules_are_seen_in_the_ports_firewall_chains() -> None:
    facts = {"port_ids": [VM_PORT, "not-on-this-host-0000"]}
    assert dataplane.firewall_open(facts, {"controller": report()}).ok  # type: ignore[union-attr]
    assert not dataplane.firewall_open(facts, {"controller": report(open_sg=False)}).ok  # type: ignore[union-attr]
    assert dataplane.firewall_closed(facts, {"controller": report(open_sg=False)}).ok  # type: ignore[union-attr]
    assert not dataplane.firewall_closed(facts, {"controller": report()}).ok  # type: ignore[union-attr]
    assert dataplane.firewall_open({"port_ids": ["elsewhere"]}, {"controller": report()}) is None


def test_every_job_kind_has_a_confirmation() -> None:
    assert set(confirm.CHECKS) == set(JobKind.ALL)


# --------------------------------------------------------------------------- the runner's states


def stand_in(ok: bool) -> Any:
    """The Neutron side without a cloud (test_actions_confirm_lab.py checks the real one)."""
    return lambda conn, job, result: Observed(ok, "stand-in Neutron check", FIP)


def stored(rep: dict[str, Any], ago: float = 0.0) -> None:
    at = timezone.now() - timedelta(seconds=ago)
    HostReport.objects.update_or_create(
        host="controller", defaults={"collected_at": at, "received_at": at, "size": 1, "report": rep}
    )


def job() -> Job:
    return Job.objects.create(
        kind=JobKind.FIP_ASSOCIATE,
        user_id="u",
        user_name="demo",
        project_id="p",
        target="fip",
        params={"port_id": "p1"},
    )


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_CONFIRM_TIMEOUT", "1")
    monkeypatch.setenv("DASHBOARD_CONFIRM_GRACE", "0")
    monkeypatch.setattr(confirm, "POLL", 0.05)


def run_confirm(
    monkeypatch: pytest.MonkeyPatch, rep: dict[str, Any], ago: float = 0.0, neutron_ok: bool = True
) -> confirm.Confirmation:
    """A job asked for now, then the agent's report (``ago`` seconds old), then the confirmation."""
    j = job()
    stored(rep, ago)
    monkeypatch.setitem(confirm.CHECKS, JobKind.FIP_ASSOCIATE, (stand_in(neutron_ok), dataplane.fip_nat_present))
    return confirm.confirm(object(), j, {"message": "associated"}, lambda pct, msg: None)  # type: ignore[arg-type]


@pytest.mark.django_db
def test_seen_in_a_fresh_report_is_a_success(monkeypatch: pytest.MonkeyPatch, quick: None) -> None:
    done = run_confirm(monkeypatch, report())
    assert done.state == JobState.SUCCEEDED and "DNAT 192.168.1.96 -> 10.0.0.127" in done.message
    assert done.result["observed"]["dataplane_ok"] is True


@pytest.mark.django_db
def test_not_seen_within_the_bound_is_unconfirmed_not_a_success(monkeypatch: pytest.MonkeyPatch, quick: None) -> None:
    done = run_confirm(monkeypatch, report(dnat=False))
    assert done.state == JobState.UNCONFIRMED and "not confirmed in the data plane" in done.message
    assert "no DNAT 192.168.1.96 -> 10.0.0.127 yet" in done.message


@pytest.mark.django_db
def test_a_report_from_before_the_request_does_not_count(monkeypatch: pytest.MonkeyPatch, quick: None) -> None:
    # it shows the rule, but the agent has not reported since the job was asked for
    done = run_confirm(monkeypatch, report(), ago=30)
    assert done.state == JobState.UNCONFIRMED and "no report since the request from controller" in done.message


@pytest.mark.django_db
def test_neutron_not_showing_it_fails_the_job(monkeypatch: pytest.MonkeyPatch, quick: None) -> None:
    done = run_confirm(monkeypatch, report(), neutron_ok=False)
    assert done.state == JobState.FAILED and "but Neutron shows: stand-in Neutron check" in done.message


@pytest.mark.django_db
def test_without_node_agents_the_message_says_the_data_plane_was_not_checked(
    monkeypatch: pytest.MonkeyPatch, quick: None
) -> None:
    done = run_confirm(monkeypatch, report(), ago=3600)  # an agent that stopped an hour ago
    assert done.state == JobState.SUCCEEDED and "data plane not checked" in done.message
    assert done.result["observed"]["dataplane_ok"] is None
