"""Create Neutron's schema from its models (run with the Neutron venv's python).

`neutron-db-manage upgrade heads` fails on PostgreSQL (migration d553edeb540f
runs a MySQL-only ALTER): create the tables from the models instead, insert
the default security-group rule templates that migration c33da356b165 would
have inserted (without them default security groups get no rules and all VM
traffic is dropped), then stamp the heads with neutron-db-manage's own code,
in this process (a second process would import Neutron again, ~4 s).

Usage: python -P neutron_db_init.py <database url>
"""

import sys

import sqlalchemy as sa
from neutron.db.migration.models import head  # noqa: F401  (imports every model)
from neutron.db.models.securitygroup_default_rules import SecurityGroupDefaultRule
from neutron_lib import constants
from neutron_lib.db import model_base
from sqlalchemy import orm

EGRESS = "Legacy default SG rule for egress traffic"
INGRESS = "Legacy default SG rule for ingress traffic"


def default_rule_templates() -> list[SecurityGroupDefaultRule]:
    rules = []
    for ethertype in (constants.IPv4, constants.IPv6):
        rules.append(
            SecurityGroupDefaultRule(
                direction=constants.EGRESS_DIRECTION,
                ethertype=ethertype,
                used_in_default_sg=True,
                used_in_non_default_sg=True,
                description=EGRESS,
            )
        )
        rules.append(
            SecurityGroupDefaultRule(
                direction=constants.INGRESS_DIRECTION,
                ethertype=ethertype,
                remote_group_id="PARENT",
                used_in_default_sg=True,
                used_in_non_default_sg=False,
                description=INGRESS,
            )
        )
    return rules


def main(url: str) -> None:
    engine = sa.create_engine(url)
    model_base.BASEV2.metadata.create_all(engine)
    with orm.Session(engine) as session, session.begin():
        if session.query(SecurityGroupDefaultRule).count() == 0:
            session.add_all(default_rule_templates())


def stamp_heads(url: str) -> None:
    from neutron.db.migration import cli

    sys.argv = ["neutron-db-manage", "--database-connection", url, "stamp", "heads"]
    cli.main()


if __name__ == "__main__":
    main(sys.argv[1])
    stamp_heads(sys.argv[1])
