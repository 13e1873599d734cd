"""The Django project of the Neutron topology dashboard."""

from dashboard.celery import app as celery_app

__all__ = ("celery_app",)
