"""Routes of the test project."""
from django.urls import path

from . import views

urlpatterns = [
    path("page/", views.cached_page),
    path("hits/", views.hits),
]
