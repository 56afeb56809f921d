"""The live feed page, and a development-only sign-in and sign-out.

dev_login and dev_logout are routed by config/urls.py only while DEBUG is on. They
let a notebook, a test or a second browser become any user with one request (as the
source article's example project did). A real site signs users in with a password
and Django's LoginView.
"""
from django.conf import settings
from django.contrib.auth import get_user_model, login, logout
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme


def feed(request):
    """The live feed: plain HTML, and static/social/feed.js speaking the WebSocket API."""
    return render(
        request,
        "social/feed.html",
        {
            "dev_sign_in": settings.DEBUG,
            "feed_config": {"userId": request.user.pk},
        },
    )


def dev_login(request, username):
    """Sign in as `username`, creating the user on first use.

    Answers {"username", "user_id"} and sets the session cookie, or redirects to
    ?next= when it names a page on this site.
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
    return _redirect_to_next(request) or JsonResponse(
        {"username": user.username, "user_id": user.pk}
    )


def dev_logout(request):
    """Sign out and forget the session."""
    logout(request)
    return _redirect_to_next(request) or JsonResponse({"signed_in": False})


def _redirect_to_next(request):
    """A redirect to ?next= when it names a page on this site, else None."""
    next_url = request.GET.get("next")
    if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        return redirect(next_url)
    return None
