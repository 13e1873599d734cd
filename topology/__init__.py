"""Graph model, cloud collector, agent ingest, join, path explainer, REST API."""
