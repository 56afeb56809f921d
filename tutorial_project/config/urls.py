"""HTTP routes. The WebSocket route lives in social/routing.py."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from social import views

urlpatterns = [
    path("", views.feed, name="feed"),
    # Signing in with a password, in production and development alike. Django's own
    # views and their URL names (LOGIN_URL and the redirects are in settings); the
    # template is social/templates/registration/login.html. Sign-out takes a POST only.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # A token for notebooks and scripts, which have no session cookie (social/auth.py).
    path("accounts/token/", views.sign_in_token, name="sign-in-token"),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico whatever the page links: send them to the icon.
    path("favicon.ico", views.favicon, name="favicon"),
]

if settings.DEBUG:
    # Password-free sign-in for demos and notebooks: never route it in production.
    urlpatterns += [
        path("login/<str:username>/", views.dev_login, name="dev-login"),
        path("logout/", views.dev_logout, name="dev-logout"),
    ]
