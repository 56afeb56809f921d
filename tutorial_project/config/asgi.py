"""The ASGI application: Django's views over HTTP, the live post API over WebSocket.

Run it with `manage.py runserver` (daphne's, for development) or with any ASGI server,
for example `daphne config.asgi:application`.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Set Django up (apps, models) before anything below imports a model.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from config.proxy import PathPrefixProxyMiddleware, PrefixedStaticFilesHandler  # noqa: E402
from social.auth import TokenAuthMiddlewareStack  # noqa: E402
from social.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The Origin check refuses handshakes started by pages on other sites
        # (cross-site WebSocket hijacking); the auth stack puts the session's user,
        # or the user of the token a non-browser client sends, into scope["user"].
        "websocket": AllowedHostsOriginValidator(
            TokenAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)

if settings.PROXY_PREFIXES:
    # runserver serves /static/ itself, but not /<prefix>/static/: serve those here.
    if settings.DEBUG:
        application = PrefixedStaticFilesHandler(application)
    application = PathPrefixProxyMiddleware(application, settings.PROXY_PREFIXES, trust_host=True)
