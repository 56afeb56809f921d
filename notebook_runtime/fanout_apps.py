"""ASGI applications the fan-out benchmark compares with tutorial_project.

Each is served in its own process, as fanout.targets() says: `bare_channels` and
`article` by daphne (`daphne notebook_runtime.fanout_apps:bare_channels`), as the
article's readers would run them, and `project_on_stock_layer` by uvicorn, as the
project is deployed, so that it differs from the `project` target only in its layer. Importing this module sets
Django up for the tutorial project (settings from the environment).

- `bare_channels`: a Channels consumer that group_sends a prebuilt message: the
  cost of Channels itself, with no DCRF, no database, no serialization.
- `article`: the source article's consumer on plain DCRF 1.3, as written
  (article_consumer.py).
- `project_on_stock_layer`: tutorial_project itself, but on Channels' own
  `InMemoryChannelLayer`: the step the project's channel layer is measured by.

All three run on Channels' stock in-memory layer, as the article's readers would.
"""

import os
import sys

from .django_setup import PROJECT_DIR, SETTINGS_MODULE

sys.path.insert(0, str(PROJECT_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

# Before anything asks for the layer: the references use Channels' defaults.
settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from config.asgi import application as project_on_stock_layer  # noqa: E402, F401

from .article_consumer import ArticleConsumer  # noqa: E402

BROADCAST_GROUP = "benchmark"


class BareBroadcastConsumer(AsyncWebsocketConsumer):
    """Every text a client sends goes, as it is, to every connection."""

    async def connect(self):
        await self.channel_layer.group_add(BROADCAST_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(BROADCAST_GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        await self.channel_layer.group_send(
            BROADCAST_GROUP, {"type": "broadcast", "text": text_data}
        )

    async def broadcast(self, message):
        await self.send(text_data=message["text"])


bare_channels = ProtocolTypeRouter(
    {"websocket": URLRouter([re_path(r"^ws/$", BareBroadcastConsumer.as_asgi())])}
)
article = ProtocolTypeRouter(
    {"websocket": AuthMiddlewareStack(URLRouter([re_path(r"^ws/$", ArticleConsumer.as_asgi())]))}
)
