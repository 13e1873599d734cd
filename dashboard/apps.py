from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"

    def ready(self) -> None:
        from dashboard import schema  # noqa: F401  (registers the OpenAPI auth extensions)
