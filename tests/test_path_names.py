"""Endpoints by name (issue 20: the path panel accepts "router1", "router1 gateway", "DHCP of private"),
pure. A router's name is its qr- on the source's subnet, "<router> gateway" its external gateway address,
"DHCP of <network>" that network's DHCP port; a VM by its name. A project naming another project's
router or network gets the answer a name nobody uses gets.
"""

from __future__ import annotations

import pytest

from tests.diagnosis_clouds import JsonDict, legacy
from tests.test_path_owned import ask, two_projects
from tests.test_path_sg_nat import VM0
from topology.join import join
from topology.path import PathError, Topo, explain_in


def explained(src: str, dst: str) -> JsonDict:
    cloud, reports = legacy()
    graph = join(cloud, reports).to_dict()
    return explain_in(Topo(graph, reports), src, dst)


@pytest.mark.parametrize(
    ("name", "kind", "ip", "scenario"),
    [
        ("router-0", "router", "10.0.0.1", "to-router"),
        ("router-0 gateway", "router", "192.168.1.1", "to-router"),
        ("DHCP of net-0", "dhcp", "10.0.0.2", "to-dhcp"),
        ("dhcp of net-0", "dhcp", "10.0.0.2", "to-dhcp"),
        ("vm-1", "port", "10.0.0.11", "same-network"),
    ],
)
def test_a_name_resolves_to_what_it_names(name: str, kind: str, ip: str, scenario: str) -> None:
    result = explained(f"port:{VM0}", name)
    assert (result["dst"]["kind"], result["dst"]["ip"], result["scenario"]) == (kind, ip, scenario)
    assert result["verdict"] == "ok", result["problems"]


def test_a_vm_named_as_the_source() -> None:
    result = explained("vm-0", "router-0")
    assert result["src"] == {"kind": "port", "node": f"port:{VM0}", "ip": "10.0.0.10"}


def test_a_name_nobody_uses_is_refused_with_what_names_are_understood() -> None:
    with pytest.raises(PathError, match=r"that name is neither a node id .* nor a name the path knows"):
        explained(f"port:{VM0}", "router-9")
    with pytest.raises(PathError, match="nor a name"):
        explained(f"port:{VM0}", "DHCP of nowhere")


@pytest.mark.parametrize(("caller", "own", "theirs"), [("0", "0", "1"), ("1", "1", "0")])
def test_a_project_learns_nothing_of_another_projects_router_or_dhcp_by_name(
    caller: str, own: str, theirs: str
) -> None:
    graph, topo = two_projects()
    src = next(n["id"] for n in graph["nodes"] if n["kind"] == "server" and n["label"] == f"vm-{caller}")
    assert ask(graph, topo, caller, src, f"router-{own}")["scenario"] == "to-router"
    assert ask(graph, topo, caller, src, f"DHCP of net-{own}")["scenario"] == "to-dhcp"
    assert ask(graph, topo, caller, src, f"router-{own} gateway")["dst"]["kind"] == "router"
    for name in (f"router-{theirs}", f"router-{theirs} gateway", f"DHCP of net-{theirs}"):
        answers = []
        for asked in (name, name.replace(f"-{theirs}", "-7")):  # theirs, and a name nobody uses
            with pytest.raises(PathError) as refused:
                ask(graph, topo, caller, src, asked)
            answers.append(str(refused.value))
        assert answers[0] == answers[1], name
        assert "<hidden>" not in answers[0] and name not in answers[0]
