"""Settings of the test project: four cache aliases on litestash, under $LITESTASH_DJANGO_DIR.

- `default`: its own data dir (LOCATION), no prefix, TIMEOUT 300;
- `prefixed`: the same data dir as `default` (so the same engine), KEY_PREFIX "site", VERSION 2,
  data dir given as OPTIONS["data_dir"];
- `other`: a second data dir, TIMEOUT None (forever), engine options spelled out;
- `instant`: a third data dir with TIMEOUT 0 (everything expires at once).

The engine binary comes from $LITESTASH_ENGINE (the library's own lookup).
"""
import os

BASE = os.environ["LITESTASH_DJANGO_DIR"]
BACKEND = "litestash.contrib.django.LiteStashCache"

SECRET_KEY = "litestash-test-project"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost"]
ROOT_URLCONF = "django_project.urls"
INSTALLED_APPS = []
MIDDLEWARE = []
DATABASES = {}
USE_TZ = True

CACHES = {
    "default": {
        "BACKEND": BACKEND,
        "LOCATION": os.path.join(BASE, "default"),
        "TIMEOUT": 300,
    },
    "prefixed": {
        "BACKEND": BACKEND,
        "KEY_PREFIX": "site",
        "VERSION": 2,
        "OPTIONS": {"data_dir": os.path.join(BASE, "default")},
    },
    "other": {
        "BACKEND": BACKEND,
        "LOCATION": os.path.join(BASE, "other"),
        "TIMEOUT": None,
        "OPTIONS": {"shards": 4, "request_timeout": 30, "flags": {"sync": "normal"}},
    },
    "instant": {
        "BACKEND": BACKEND,
        "LOCATION": os.path.join(BASE, "instant"),
        "TIMEOUT": 0,
    },
}
