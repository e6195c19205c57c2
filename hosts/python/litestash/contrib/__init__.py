"""Integrations of litestash with other frameworks, each in its own module, imported on demand.

- `litestash.contrib.django`: a Django cache backend (needs Django; Debian `python3-django`).
"""
