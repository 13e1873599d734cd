"""The lab cloud: a real Keystone + Neutron with its agents, on loopback.

The core modules import nothing from Django so pytest fixtures and scripts
can use them directly; `lab.management.commands.lab` is the thin Django
wrapper (`python manage.py lab up|down|status`).
"""
