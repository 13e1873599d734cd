from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("topology", "0011_checkpoint_nodes"),
    ]

    operations = [
        migrations.AddField(
            model_name="graphrevision",
            name="reset",
            field=models.BooleanField(db_default=False, default=False),
        ),
    ]
