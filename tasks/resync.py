"""Make the L3 agents hosting a router process it again (the admin repair's data-plane half, issue 23).

Why a real change: a "touch" that sends the router's own description back is
no request at all. openstacksdk marks an attribute dirty only when its value
changes (openstack/resource.py ``_ComponentManager.__setitem__``: ``changed =
orig != value``) and ``Resource.commit`` returns without a PUT when nothing is
dirty. Neutron then never calls ``notify_router_updated``, the L3 agent keeps
the orphan gateway port as its cached ``ex_gw_port`` and the orphan's ``qg-``
stays in the qrouter namespace (3 runs of 4 in session 4: the repair ended
``unconfirmed``; the fourth was cleaned by some other router update).

What this relies on, read in the lab's Neutron 29:

- ``neutron/db/l3_db.py:2377`` ``L3_NAT_db_mixin.update_router`` (the ``router``
  service plugin's, through ``extraroute_db.ExtraRoute_db_mixin``) calls
  ``notify_router_updated`` after every PUT that goes through.
- ``neutron/agent/l3/agent.py`` ``_process_router_update`` fetches the router
  anew (updates older than the last fetch are skipped, never newer ones).
- ``neutron/agent/l3/router_info.py:875`` ``_process_external_gateway``: a router
  without ``gw_port`` while the agent caches one calls
  ``external_gateway_removed`` (which unplugs that ``qg-``), then
  ``_delete_stale_external_devices`` unplugs any other ``qg-`` left.

So the description is really changed (a suffix), which notifies, and then put
back, which notifies again. The gentlest change that notifies: no gateway,
route or admin state is touched, so no packet is affected. An interrupted run
leaves the suffix, which the next run (the job's retry) recognises and removes.
"""

from __future__ import annotations

from typing import Any

import openstack.connection

RESYNC_SUFFIX = " [neutron-map: L3 resync]"
DESCRIPTION_MAX = 255  # neutron_lib.db.constants.DESCRIPTION_FIELD_SIZE


def original_description(description: str | None) -> str:
    """The router's description without the suffix an earlier, interrupted resync may have left."""
    text = description or ""
    return text[: -len(RESYNC_SUFFIX)] if text.endswith(RESYNC_SUFFIX) else text


def marked_description(original: str) -> str:
    """The description while resyncing: always different from ``original``, within Neutron's limit."""
    return original[: DESCRIPTION_MAX - len(RESYNC_SUFFIX)] + RESYNC_SUFFIX


def resync_router(conn: openstack.connection.Connection, router_id: str) -> dict[str, Any]:
    """Two real router updates (mark, then restore), each one an L3 agent notification.

    Call it inside ``tasks.neutron_calls.neutron_call``. Both updates are written with
    If-Match: a concurrent change answers 412, which the job retries (re-reading,
    so a description someone else set meanwhile is kept, not overwritten).
    """
    router = conn.network.get_router(router_id)
    original = original_description(router.description)
    marked = marked_description(original)
    updates = 0
    if router.description != marked:
        router = conn.network.update_router(router, if_revision=router.revision_number, description=marked)
        updates += 1
    if router.description == marked:  # ours: restore it (marked != original, so this is a real PUT as well)
        router = conn.network.update_router(router, if_revision=router.revision_number, description=original)
        updates += 1
    return {"router_updates": updates, "revision_number": router.revision_number}
