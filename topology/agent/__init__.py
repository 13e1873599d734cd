"""The node agent: reads a compute/network node's networking and reports it.

Plain Python (pyroute2, ovsdbapp, the standard library): it runs on nodes
where Django is not installed. ``python -m topology.agent --help``.
"""
