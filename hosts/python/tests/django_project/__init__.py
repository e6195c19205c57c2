"""A minimal Django project whose caches are litestash (used by tests/test_django_cache.py)."""
