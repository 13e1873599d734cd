"""HostReport.inventory: the report's names by section, so that the next report's change summary
does not decode this one (topology/report_inventory.py); filled for the rows already stored."""

from typing import Any

from django.db import migrations, models

from topology.join.cache import digest
from topology.report_inventory import encode_inventory, report_inventory


def fill_inventories(apps: Any, schema_editor: Any) -> None:
    HostReport = apps.get_model("topology", "HostReport")
    for row in HostReport.objects.exclude(digest="").only("id", "digest", "report").iterator(chunk_size=100):
        made = digest(row.report)
        if made is None or made.hex() != row.digest:  # a digest that is not its report's: left unknown
            continue
        try:
            inventory = report_inventory(row.report)
        except (AttributeError, KeyError, TypeError):  # not a report's shape: its summary decodes it, as before
            continue
        HostReport.objects.filter(id=row.id).update(inventory=encode_inventory(inventory, row.digest))


class Migration(migrations.Migration):
    dependencies = [
        ("topology", "0006_watches"),
    ]

    operations = [
        migrations.AddField(
            model_name="hostreport",
            name="inventory",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(fill_inventories, migrations.RunPython.noop),
    ]
