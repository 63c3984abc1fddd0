"""The project's one route: the how-to's view."""

from django.urls import path

from leads.views import fire_event

urlpatterns = [path("records/<str:record_id>/events", fire_event, name="fire-event")]
