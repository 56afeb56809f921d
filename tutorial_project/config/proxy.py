"""Serving the site under a path prefix, behind jupyter-server-proxy.

On JupyterHub or Binder a learner's browser cannot reach 127.0.0.1 inside their
server. jupyter-server-proxy forwards ``<base_url>proxy/absolute/<port>/<path>`` to
``http://localhost:<port><base_url>proxy/absolute/<port>/<path>``: the whole path,
HTTP and WebSocket alike, with the browser's own ``Host`` and ``Origin`` headers.
(Its ``proxy/<port>/`` form strips the prefix and names it in a header, but only for
HTTP, so a WebSocket could not tell where it was mounted.) Two things then go wrong
for a Django site, and PathPrefixProxyMiddleware mends both, for paths under a
trusted prefix only:

- Links and routes: Django builds URLs from the script prefix (``root_path`` in
  ASGI), and Django and Channels route what follows it. The middleware sets
  ``root_path`` to the prefix, as a server mounted there would. Static files need
  two more steps: Django adds the script prefix to STATIC_URL once per process, at
  first use, so PrefixedStaticFilesStorage adds each request's own; and Django's
  development handler for static files compares the whole path with STATIC_URL,
  so PrefixedStaticFilesHandler compares what follows the prefix.
- Hosts: the ``Host`` is the hub's, which no setting can know in advance (a Binder
  host changes from launch to launch). With ``trust_host`` the middleware treats
  the request as addressed to this server itself, and an ``Origin`` equal to the
  hub's host as this server's own origin: the same-origin rule, applied at the
  proxy. A page from any other site keeps its foreign ``Origin``, so the WebSocket
  Origin check and CSRF still refuse it.

A prefix is trusted only when listed: ``DJANGO_PROXY_PREFIXES`` for the project's
own server (config/asgi.py), or the notebook runtime's own proxied path.
"""

from urllib.parse import urlsplit

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.contrib.staticfiles.storage import StaticFilesStorage
from django.contrib.staticfiles.views import serve
from django.urls import get_script_prefix


class PathPrefixProxyMiddleware:
    """ASGI middleware for requests that a path-prefix proxy forwards with their
    whole path."""

    def __init__(
        self, app, prefixes, *, trust_host: bool = False, drop_authorization: bool = False
    ):
        self.app = app
        self.prefixes = {"/" + prefix.strip("/") for prefix in prefixes if prefix.strip("/")}
        self.trust_host = trust_host
        # jupyter-server-proxy passes on the Authorization header that signed the
        # client in to the Jupyter server ("token <Jupyter's token>"): Jupyter's
        # credential, not a sign-in token of this site (social/auth.py would refuse
        # it as unknown), so a proxy of that kind asks for it to be dropped.
        self.drop_authorization = drop_authorization

    async def __call__(self, scope, receive, send):
        prefix = self._trusted_prefix(scope)
        if prefix is not None:
            scope = dict(scope, root_path=prefix)
            if self.trust_host:
                scope["headers"] = _addressed_to_this_server(scope)
            if self.drop_authorization:
                scope["headers"] = [
                    (name, value) for name, value in scope["headers"] if name != b"authorization"
                ]
        return await self.app(scope, receive, send)

    def _trusted_prefix(self, scope):
        if scope["type"] not in ("http", "websocket"):
            return None
        path = scope["path"]
        return next(
            (prefix for prefix in self.prefixes if path == prefix or path.startswith(prefix + "/")),
            None,
        )


def _addressed_to_this_server(scope):
    """The request's headers with Host, and an Origin of the same host, rewritten
    to this server's own address."""
    public_host = next((value for name, value in scope["headers"] if name == b"host"), b"")
    server_host, server_port = scope.get("server") or ("127.0.0.1", None)
    own_host = (f"{server_host}:{server_port}" if server_port else server_host).encode()
    headers = []
    for name, value in scope["headers"]:
        if name == b"host":
            value = own_host
        elif name == b"origin" and urlsplit(value).netloc == public_host:
            value = b"http://" + own_host
        headers.append((name, value))
    return headers


class PrefixedStaticFilesStorage(StaticFilesStorage):
    """Static file URLs under the script prefix of the request being served.

    With STATIC_URL an absolute path ("/static/"), a page served at "/" links
    /static/..., and the same page served under /user/alice/proxy/absolute/8000/
    links /user/alice/proxy/absolute/8000/static/....
    """

    def url(self, name):
        return get_script_prefix().rstrip("/") + super().url(name)


class PrefixedStaticFilesHandler(ASGIStaticFilesHandler):
    """Django's development server for static files (as runserver does it), for a
    site that may be mounted under a path prefix."""

    async def __call__(self, scope, receive, send):
        root_path = scope.get("root_path", "")
        if scope["type"] == "http" and self._should_handle(scope["path"].removeprefix(root_path)):
            return await super(ASGIStaticFilesHandler, self).__call__(scope, receive, send)
        return await self.application(scope, receive, send)

    def serve(self, request):
        return serve(request, self.file_path(request.path_info), insecure=True)
