"""WebSocket routes, mounted by config/asgi.py."""

from django.urls import re_path

from .consumers import LivePostConsumer

websocket_urlpatterns = [
    re_path(r"^ws/$", LivePostConsumer.as_asgi()),
]
