"""The collapsed view's summary rows store each host node as JSON text beside its counts, and the cross part's
tunnels in a row of their own (topology/graphservice/summary_rows.py, summaries.TUNNELS): the rows already
stored (GraphPartSummary, GraphPartScope) rewritten in that form; backwards, in the form of migration 0008."""

from collections.abc import Callable, Iterator
from typing import Any

import orjson
from django.db import migrations

from topology import collapsed
from topology.graphservice import summary_rows

TUNNELS = "tunnels"  # summaries.TUNNELS, as this migration writes it
OLD_EXTRA = ("revision", "tunnels", "ends", "visible")  # what 0008's rows carry beside hosts and links


def old_to_new(raw: bytes) -> tuple[bytes, list[Any] | None] | None:
    """A row of 0008's form in this one, and the tunnels it carried (the cross part's); None: not of that form."""
    if summary_rows.decode(raw) is not None:
        return None
    data = orjson.loads(raw)
    summaries = {
        host: collapsed.HostSummary(s["node"], dict(s["counts"]), s["warnings"], s["q"]) for host, s in data["hosts"].items()
    }
    links = {(a, b): n for a, b, n in data["links"]}
    extra = {key: data[key] for key in OLD_EXTRA if key in data and key != "tunnels"}
    return summary_rows.encode(summaries, links, **extra), data.get("tunnels")


def new_to_old(raw: bytes, tunnels: list[Any] | None = None) -> bytes | None:
    """A row of this form in 0008's (the host nodes decoded again); None: not of this form."""
    row = summary_rows.decode(raw)
    if row is None:
        return None
    hosts = {}
    for host, summary in summary_rows.hosts_of(row).items():
        node = None
        if summary.text is not None:
            node = orjson.loads(summary.text.head + b"null" + summary.text.tail)
            del node["attrs"]["collapsed"]
        hosts[host] = {"node": node, "counts": summary.counts, "warnings": summary.warnings, "q": summary.quarantined}
    body: dict[str, Any] = {"hosts": hosts, "links": row["links"]}
    body.update({key: row[key] for key in OLD_EXTRA if key in row})
    if tunnels:
        body["tunnels"] = tunnels
    return orjson.dumps(body)


def rows(model: Any) -> Iterator[Any]:
    yield from model.objects.only("id", "key", "body").iterator(chunk_size=200)


def rewrite(model: Any, change: Callable[[Any], bytes | None]) -> None:
    """Each row changed; one of neither form (not a summary: written by hand) is left as it is, and a reader
    takes it for no row, as before."""
    batch = []
    for row in rows(model):
        try:
            body = change(row)
        except (ValueError, KeyError, TypeError, AttributeError):  # orjson.JSONDecodeError is a ValueError
            body = None
        if body is not None:
            row.body = body
            batch.append(row)
        if len(batch) >= 200:
            model.objects.bulk_update(batch, ["body"])
            batch = []
    if batch:
        model.objects.bulk_update(batch, ["body"])


def forwards(apps: Any, schema_editor: Any) -> None:
    summary = apps.get_model("topology", "GraphPartSummary")
    scope = apps.get_model("topology", "GraphPartScope")
    tunnels: dict[str, Any] = {}

    def part_row(row: Any) -> bytes | None:
        made = old_to_new(bytes(row.body)) if row.key != TUNNELS else None
        if made is None:
            return None
        body, carried = made
        if carried is not None:
            tunnels["row"] = orjson.dumps({"revision": orjson.loads(row.body)["revision"], "tunnels": carried})
        return body

    rewrite(summary, part_row)
    if "row" in tunnels:
        summary.objects.update_or_create(key=TUNNELS, defaults={"body": tunnels["row"]})
    rewrite(scope, lambda row: made[0] if (made := old_to_new(bytes(row.body))) is not None else None)


def backwards(apps: Any, schema_editor: Any) -> None:
    summary = apps.get_model("topology", "GraphPartSummary")
    scope = apps.get_model("topology", "GraphPartScope")
    row = summary.objects.filter(key=TUNNELS).first()
    try:
        carried = orjson.loads(row.body)["tunnels"] if row is not None else None
    except (ValueError, KeyError, TypeError):
        carried = None
    summary.objects.filter(key=TUNNELS).delete()
    rewrite(summary, lambda row: new_to_old(bytes(row.body), carried if row.key == "cross" else None))
    rewrite(scope, lambda row: new_to_old(bytes(row.body)))


class Migration(migrations.Migration):
    dependencies = [
        ("topology", "0009_graphpart_revisions_index"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
