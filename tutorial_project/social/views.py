"""The live feed page, and a development-only sign-in and sign-out.

Signing in with a password is Django's own LoginView and LogoutView, routed always
(config/urls.py, template registration/login.html); `createsuperuser` or
`changepassword` gives a user a password.

dev_login and dev_logout are routed by config/urls.py only while DEBUG is on. They
let a notebook, a test or a second browser become any user with one request (as the
source article's example project did), with no password at all.

Both answer the way the client asks (its Accept header): a browser, which prefers
HTML, is sent on to the feed; any other client (the notebooks' HttpSession, curl,
fetch) gets JSON.
"""

from django.conf import settings
from django.contrib.auth import get_user_model, login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.vary import vary_on_headers
from rest_framework.authtoken.models import Token

from .auth import token_expires_at


def feed(request):
    """The live feed: plain HTML, and static/social/feed.js speaking the WebSocket API."""
    return render(
        request,
        "social/feed.html",
        {
            # The password-free sign-in form, only where it is routed.
            "dev_sign_in": settings.DEBUG,
            # The site's root as this request sees it: "/", or a proxy's path
            # prefix (config/proxy.py). feed.js builds every URL from it.
            "feed_config": {"userId": request.user.pk, "siteRoot": reverse("feed")},
        },
    )


@login_required
def sign_in_token(request):
    """Your token for clients that are not browsers (social/auth.py): a notebook,
    a script. Shown, and made on first visit; a POST replaces it with a new one,
    which ends the old one wherever it was pasted."""
    if request.method == "POST":
        Token.objects.filter(user=request.user).delete()
        return redirect("sign-in-token")
    token, _ = Token.objects.get_or_create(user=request.user)
    return render(
        request,
        "social/token.html",
        {
            "token": token,
            "expires_at": token_expires_at(token),
            "class_url": request.build_absolute_uri(reverse("feed")),
        },
    )


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links: send them to the icon.

    Resolved per request, not once at import, so that it follows the request's
    path prefix (config/proxy.py)."""
    return redirect(static("social/favicon.svg"))


@vary_on_headers("Accept")
def dev_login(request, username):
    """Sign in as `username`, creating the user on first use.

    Sets the session cookie, then redirects to ?next= when it names a page on this
    site, to the feed when a browser asks, or answers {"username", "user_id"}.
    """
    User = get_user_model()
    try:
        User.username_validator(username)
    except ValidationError as error:
        return JsonResponse({"errors": error.messages}, status=400)
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return _redirect_for(request) or JsonResponse({"username": user.username, "user_id": user.pk})


@vary_on_headers("Accept")
def dev_logout(request):
    """Sign out and forget the session."""
    logout(request)
    return _redirect_for(request) or JsonResponse({"signed_in": False})


def _redirect_for(request):
    """Where to send the client after signing in or out, or None to answer JSON.

    ?next= wins when it names a page on this site (LoginView's rule). Otherwise a
    browser goes to the feed: reverse() rather than "/", so the link still works
    when the site is served under a path prefix.
    """
    next_url = request.GET.get("next")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(next_url)
    if _prefers_html(request):
        return redirect("feed")
    return None


def _prefers_html(request):
    """Whether the client would rather have a page than JSON, as a browser would.

    JSON is listed first so that it wins a tie: a client that sends no Accept
    header, or */*, gets JSON.
    """
    return request.get_preferred_type(["application/json", "text/html"]) == "text/html"
