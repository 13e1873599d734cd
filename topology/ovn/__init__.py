"""OVN's databases, read with ovsdbapp's OVN schema APIs (issue 17, first part).

The dashboard reads a cloud's central NB and SB databases given their connection strings
(``OVN_NB_CONNECTION`` / ``OVN_SB_CONNECTION``), the way it reads Neutron's API: one connection per
cloud, not one per node (docs/design.md, "OVN"). Every function returns plain JSON-able dicts.

- ``connection``: connect with a deadline (never a hang), register only the columns the reader
  needs that the server's schema has (older schemas lack some), close.
- ``values``: OVSDB values (optional columns, references, maps) to plain Python.
- ``northbound``: one function per NB table (Logical_Switch, ..., NB_Global), ``read_northbound``.
- ``southbound``: one function per SB table (Chassis, ..., Port_Binding), ``read_southbound``.
"""
