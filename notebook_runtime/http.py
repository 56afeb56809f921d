"""A small HTTP client with a cookie jar, for cells: sign in, fetch pages, post forms.

It is httpx's async client, so a cell awaits it on the very event loop that runs the
server it talks to (a blocking client there would wait for a server that cannot run).
"""

import json
import urllib.parse
from http.cookiejar import CookieJar

import httpx

JSON = {"Accept": "application/json"}


class HttpSession:
    """Requests to one site that keep its cookies, like a browser tab."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        # httpx shares a CookieJar it is given, so every request below adds to this one.
        self.cookies = CookieJar()

    async def get(self, path: str) -> tuple[int, str]:
        """GET a page; return (status, body text)."""
        return await self._request("GET", path)

    async def post_form(self, path: str, fields: dict) -> tuple[int, str]:
        """POST a form as a browser would, CSRF token included; return (status, body)."""
        fields = {"csrfmiddlewaretoken": self.cookie("csrftoken"), **fields}
        return await self._request("POST", path, data=fields)

    async def sign_in(self, username: str) -> dict:
        """Sign in through the development sign-in view, creating the user if needed.
        Returns {"username": ..., "user_id": ...}."""
        # Asked for JSON: the view sends a browser, which asks for HTML, to the feed.
        path = f"/login/{urllib.parse.quote(username)}/"
        status, body = await self._request("GET", path, headers=JSON)
        if status != 200:
            raise RuntimeError(f"Signing in as {username!r} failed ({status}): {body}")
        return json.loads(body)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)

    def cookie_header(self) -> str:
        """The Cookie header a browser would send to this site."""
        return "; ".join(f"{c.name}={c.value}" for c in self.cookies)

    async def _request(self, method, path, **options) -> tuple[int, str]:
        # A client per request: nothing stays open after the cell that used it.
        async with httpx.AsyncClient(
            base_url=self.base_url, cookies=self.cookies, follow_redirects=True, timeout=10
        ) as client:
            response = await client.request(method, path, **options)
            return response.status_code, response.text
