"""The graph kept by part (GraphPart): the whole-graph blob of GraphState is split into parts and emptied."""

from typing import Any

import orjson
from django.db import migrations, models

from topology.graphservice.parts import Partition


def split_graph_blob(apps: Any, schema_editor: Any) -> None:
    GraphState = apps.get_model("topology", "GraphState")
    GraphPart = apps.get_model("topology", "GraphPart")
    for state in GraphState.objects.all():
        graph = orjson.loads(bytes(state.graph_json or b"{}") or b"{}")
        nodes = {node["id"]: node for node in graph.get("nodes", [])}
        edges = [(e["source"], e["target"], e["kind"]) for e in graph.get("edges", [])]
        partition = Partition.of_graph(nodes, edges)
        GraphPart.objects.bulk_create(
            GraphPart(
                key=key,
                revision=state.revision,
                body=orjson.dumps(
                    {"nodes": [nodes[n] for n in members.nodes], "edges": [list(k) for k in members.edges]}
                ),
            )
            for key, members in partition.parts.items()
        )
        state.graph_json = b"{}"
        state.save(update_fields=["graph_json"])


def join_graph_parts(apps: Any, schema_editor: Any) -> None:
    GraphState = apps.get_model("topology", "GraphState")
    GraphPart = apps.get_model("topology", "GraphPart")
    graph: dict[str, list[Any]] = {"nodes": [], "edges": []}
    for part in GraphPart.objects.all():
        data = orjson.loads(bytes(part.body))
        graph["nodes"].extend(data["nodes"])
        graph["edges"].extend({"source": s, "target": t, "kind": k} for s, t, k in data["edges"])
    GraphState.objects.update(graph_json=orjson.dumps(graph))


class Migration(migrations.Migration):
    dependencies = [
        ("topology", "0003_input_digests"),
    ]

    operations = [
        migrations.CreateModel(
            name="GraphPart",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=300, unique=True)),
                ("revision", models.PositiveBigIntegerField()),
                ("body", models.BinaryField()),
                ("fragments", models.BinaryField(null=True)),
            ],
        ),
        migrations.RunPython(split_graph_blob, join_graph_parts),
    ]
