"""Read-only probes on the nodes, over the channel each node agent keeps open to the dashboard.

docs/agent-probes.md describes the contract: the websocket route, its messages and the REST API.
"""
