"""The admin repair's resync of a router (tasks/resync.py): why a "touch" is not enough, and the marker."""

from __future__ import annotations

from openstack.network.v2.router import Router

from tasks.resync import DESCRIPTION_MAX, RESYNC_SUFFIX, marked_description, original_description


def test_openstacksdk_sends_nothing_for_a_touch_that_changes_no_value() -> None:
    """The defect's cause, on the real openstacksdk: the old repair's update_router(description=same)."""
    router = Router.existing(id="r1", description="edge", revision_number=4)
    router._update(description="edge")
    assert not router.requires_commit  # Resource.commit returns without a PUT: no notify_router_updated
    router._update(description=marked_description("edge"))
    assert router.requires_commit


def test_the_marked_description_always_differs_and_is_undone_by_the_next_run() -> None:
    for original in ("", "edge router", "x" * DESCRIPTION_MAX):
        marked = marked_description(original)
        assert marked != original and marked.endswith(RESYNC_SUFFIX) and len(marked) <= DESCRIPTION_MAX
    assert original_description(marked_description("edge router")) == "edge router"
    assert original_description(None) == "" and original_description("edge router") == "edge router"
