"""Neutron's notifications (oslo.messaging, ``messagingv2``): logical changes within seconds.

Neutron's API emits ``<resource>.<action>.end`` for every object it creates, updates or
deletes (and ``router.interface.create``/``delete``) on the message bus. The listener
(:mod:`.listener`, kombu on the ``neutron`` topic exchange) turns each into the objects
to re-read (:mod:`.events`, pure), re-reads just those as the dashboard's account,
patches the stored cloud snapshot and marks the graph writer (:mod:`.apply`). Its state
(listening, reconnecting, the last event) is in Redis for the status API (:mod:`.status`).

The periodic full refresh (tasks.refresh_cloud) stays the safety net: what Neutron does
without an API call (a port going ACTIVE when its agent wires it, a DHCP port made by the
DHCP agent) is not notified, and an event lost while the listener was away is caught there.
"""
