"""A small HTTP client with a cookie jar, for cells: sign in, fetch pages, post forms.

It uses urllib in a worker thread, because the server it talks to usually runs on
the very event loop the cell is running on: a blocking call on that thread would
wait for a server that cannot run.
"""

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

JSON = {"Accept": "application/json"}


class HttpSession:
    """Requests to one site that keep its cookies, like a browser tab."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.cookies = CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    async def get(self, path: str) -> tuple[int, str]:
        """GET a page; return (status, body text)."""
        return await asyncio.to_thread(self._open, path, None)

    async def post_form(self, path: str, fields: dict) -> tuple[int, str]:
        """POST a form as a browser would, CSRF token included; return (status, body)."""
        fields = {"csrfmiddlewaretoken": self.cookie("csrftoken"), **fields}
        data = urllib.parse.urlencode(fields).encode()
        return await asyncio.to_thread(self._open, path, data)

    async def sign_in(self, username: str) -> dict:
        """Sign in through the development sign-in view, creating the user if needed.
        Returns {"username": ..., "user_id": ...}."""
        # Asked for JSON: the view sends a browser, which asks for HTML, to the feed.
        path = f"/login/{urllib.parse.quote(username)}/"
        status, body = await asyncio.to_thread(self._open, path, None, JSON)
        if status != 200:
            raise RuntimeError(f"Signing in as {username!r} failed ({status}): {body}")
        return json.loads(body)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)

    def cookie_header(self) -> str:
        """The Cookie header a browser would send to this site."""
        return "; ".join(f"{c.name}={c.value}" for c in self.cookies)

    def _open(self, path, data, headers=None):
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers or {})
        try:
            with self._opener.open(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
