"""Celery jobs for actions, the Job model, progress over Channels."""
