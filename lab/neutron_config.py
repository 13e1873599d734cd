"""Neutron's configuration files as text: neutron.conf, ML2, the agents', dnsmasq's and uwsgi's.

Pure text builders (lab/neutron.py writes them and runs the daemons). Internal ports moved into
namespaces do not work with the userspace datapath: the L3 and DHCP agents plug their namespaces
with veths (`ovs_use_veth`).
"""

from __future__ import annotations

import os
from pathlib import Path

from lab import database, keystone, metadata, ovs, paths, rabbitmq, rest

VENV = "neutron"
HOST = "controller"  # the all-in-one node: agents' `host`, ports' binding:host_id
API_URL = rest.NEUTRON_URL

ETC_DIR = paths.ETC_DIR / "neutron"
CONF = ETC_DIR / "neutron.conf"
ML2_CONF = ETC_DIR / "plugins" / "ml2" / "ml2_conf.ini"
OVS_AGENT_CONF = ETC_DIR / "openvswitch_agent.ini"
L3_AGENT_CONF = ETC_DIR / "l3_agent.ini"
DHCP_AGENT_CONF = ETC_DIR / "dhcp_agent.ini"
DNSMASQ_CONF = ETC_DIR / "dnsmasq.conf"
UWSGI_INI = ETC_DIR / "neutron-api-uwsgi.ini"
STATE_PATH = paths.RUN_DIR / "neutron"


PRIVSEP_SECTIONS = (
    "privsep",
    "privsep_dhcp_release",
    "privsep_ovs_vsctl",
    "privsep_namespace",
    "privsep_conntrack",
    "privsep_link",
)


def _bin(script: str) -> str:
    return str(paths.venv_bin(VENV, script))


def l3_agent_env() -> dict[str, str]:
    """The L3 agent's PATH with the virtualenv's bin first: an HA router's agent runs
    `neutron-keepalived-state-change` (a /bin/sh script in that bin) by its bare name."""
    return {"PATH": f"{Path(_bin('python')).parent}:{os.environ.get('PATH', os.defpath)}"}


# HA routers (scenario ha, issue 15): every new router is HA, scheduled to both hosts' L3 agents (VRRP by
# keepalived over the "HA network project <project>", 169.254.192.0/18 on VXLAN). Neutron 29 has no
# min_l3_agents_per_router option (removed upstream; grep finds it nowhere in the venv): only the maximum.
L3_HA = "l3_ha = True"
L3_HA_AGENTS = 2


def l3_ha_options(ha: bool) -> str:
    return f"{L3_HA}\nmax_l3_agents_per_router = {L3_HA_AGENTS}\n" if ha else ""


# VLAN ranges (scenario vlan, issue 15): the network_segment_range service plugin makes ML2's
# network_vlan_ranges a "default" range object whose GET /v2.0/network-segment-ranges (admin only) lists
# the `available` ids and the `used` ones with their projects (neutron/objects/network_segment_range.py).
SEGMENT_RANGE_PLUGIN = "network_segment_range"


def service_plugins(segment_ranges: bool = False) -> str:
    return ",".join(["router", *([SEGMENT_RANGE_PLUGIN] if segment_ranges else [])])


def neutron_conf(
    host: str = HOST, state_path: Path = STATE_PATH, conf: Path = CONF, ha: bool = False, vlan: bool = False
) -> str:
    """neutron.conf of a host: the server and host 1's agents use `controller`'s; `ha`: HA routers;
    `vlan`: the network_segment_range plugin, so the dashboard can read how full physnet1's range is."""
    helper = f"{_bin('privsep-helper')} --config-file {conf}"
    privsep = "".join(f"\n[{s}]\nhelper_command = {helper}\n" for s in PRIVSEP_SECTIONS)
    a = keystone.NEUTRON_SERVICE
    return f"""\
[DEFAULT]
host = {host}
core_plugin = ml2
service_plugins = {service_plugins(vlan)}
allow_overlapping_ips = True
auth_strategy = keystone
transport_url = {rabbitmq.TRANSPORT_URL}
state_path = {state_path}
api_paste_config = {paths.VENVS_DIR / VENV / "etc" / "neutron" / "api-paste.ini"}
# There is no Nova: ports are plugged by the lab itself.
notify_nova_on_port_status_changes = False
notify_nova_on_port_data_changes = False
api_workers = 1
rpc_workers = 1
rpc_state_report_workers = 1
use_stderr = True
debug = False
{l3_ha_options(ha)}
[agent]
# Running as root: no sudo, no rootwrap.
root_helper =
report_interval = 10

[database]
connection = {database.URL}
max_pool_size = 5
max_overflow = 10

[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:5000
auth_url = http://127.0.0.1:5000
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = {a.project}
username = {a.username}
password = {a.password}
region_name = {keystone.REGION}
interface = public
service_token_roles_required = true

[oslo_concurrency]
lock_path = {state_path / "lock"}
{privsep}{notifications_conf()}"""


# --------------------------------------------------------------------------- notifications
# Neutron's API emits `<resource>.<action>.end` notifications (neutron/pecan_wsgi/hooks/notifier.py,
# router.interface.* from neutron/db/l3_db.py) on the vhost of its own (lab/rabbitmq.py); the
# dashboard's listener (topology/notifications/) re-reads the objects they name.


def notifications_conf() -> str:
    return f"""
[oslo_messaging_notifications]
driver = messagingv2
topics = notifications
transport_url = {rabbitmq.NOTIFICATIONS_URL}
"""


def notifications_on() -> bool:
    """Whether the running server's configuration emits notifications (written by this code)."""
    try:
        return notifications_conf() in CONF.read_text()
    except OSError:
        return False


def ml2_conf(vlan: bool = False) -> str:
    """ML2: project networks on VXLAN, or (host mode vlan, seed 004) VLANs of physnet1 in VLAN_RANGE."""
    low, high = ovs.VLAN_RANGE
    types = "vlan" if vlan else "vxlan"
    vlan_ranges = f"\n[ml2_type_vlan]\nnetwork_vlan_ranges = {ovs.VLAN_PHYSNET}:{low}:{high}\n" if vlan else ""
    return f"""\
[ml2]
type_drivers = flat,vlan,vxlan
project_network_types = {types}
# l2population: DVR needs it (scenario dvr); agents without it ignore it.
mechanism_drivers = openvswitch,l2population
extension_drivers = port_security

[ml2_type_flat]
flat_networks = external

[ml2_type_vxlan]
vni_ranges = 1:1000
{vlan_ranges}
[securitygroup]
firewall_driver = iptables_hybrid
"""


ML2 = ml2_conf()
VLAN_TYPES = "project_network_types = vlan"


def bridge_mappings(vlan: bool = False) -> str:
    """external:br-ex, and physnet1:br-vlan in host mode vlan (both hosts' OVS agents)."""
    mappings = [f"{ovs.PHYSNET}:{ovs.EXTERNAL_BRIDGE}"]
    if vlan:
        mappings.append(f"{ovs.VLAN_PHYSNET}:{ovs.VLAN_BRIDGE}")
    return ",".join(mappings)


OVS_SECTION = f"""\
[ovs]
datapath_type = netdev
integration_bridge = {ovs.INTEGRATION_BRIDGE}
ovsdb_connection = {ovs.OVSDB_CONNECTION}
"""


def ovs_agent_conf(local_ip: str = "127.0.0.1", dvr: bool = False, vlan: bool = False) -> str:
    dvr_options = "l2_population = True\nenable_distributed_routing = True\narp_responder = True\n" if dvr else ""
    return f"""\
{OVS_SECTION}tunnel_bridge = {ovs.TUNNEL_BRIDGE}
local_ip = {local_ip}
bridge_mappings = {bridge_mappings(vlan)}
of_listen_address = 127.0.0.1

[agent]
tunnel_types = vxlan
{dvr_options}
[securitygroup]
firewall_driver = iptables_hybrid
"""


def metadata_l3_options(enabled: bool) -> str:
    return metadata.l3_options() if enabled else "enable_metadata_proxy = False\n"


def metadata_dhcp_options(enabled: bool) -> str:
    return metadata.dhcp_options() if enabled else "enable_isolated_metadata = False\n"


# Internal ports moved into namespaces do not work with the userspace
# datapath: the L3 and DHCP agents plug their namespaces with veths.
def l3_agent_conf(mode: str = "legacy", with_metadata: bool = False) -> str:
    """`legacy` (one host), `dvr_snat` (host 1 of scenario dvr) or `dvr` (compute2); the metadata
    proxy only where a metadata agent runs (host 1, and compute2: lab/metadata.py, lab/hosts.py)."""
    return f"""\
[DEFAULT]
interface_driver = openvswitch
ovs_use_veth = True
agent_mode = {mode}
# radvd in qrouter namespaces (scenario dualstack): an RA every 3-10 s instead of 30-100 s, so a VM
# learns its prefix and default route again within seconds of a router interface coming back.
min_rtr_adv_interval = 3
max_rtr_adv_interval = 10
{metadata_l3_options(with_metadata)}
{OVS_SECTION}"""


def dhcp_agent_conf(with_metadata: bool = True) -> str:
    return f"""\
[DEFAULT]
interface_driver = openvswitch
ovs_use_veth = True
dhcp_driver = neutron.agent.linux.dhcp.Dnsmasq
{metadata_dhcp_options(with_metadata)}dnsmasq_config_file = {DNSMASQ_CONF}

{OVS_SECTION}"""


DHCP_AGENT = dhcp_agent_conf()

# dnsmasq drops to `nobody` after starting, then reads (and on each reload
# re-reads) its hosts and options files under the lab dir: from a checkout under
# a directory only root can enter it read none, and VMs got no address. It
# stays root, like the agent that starts it.
DNSMASQ = "user=root\n"

UWSGI = """\
[uwsgi]
http-socket = 127.0.0.1:9696
module = neutron.wsgi.api:application
master = true
processes = 2
threads = 1
lazy-apps = true
enable-threads = true
need-app = true
die-on-term = true
buffer-size = 65535
# openstacksdk hits "connection reset by peer" on reused connections otherwise.
add-header = Connection: close
"""
