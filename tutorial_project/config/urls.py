"""HTTP routes. The WebSocket route lives in social/routing.py."""
from django.conf import settings
from django.contrib import admin
from django.urls import path

from social import views

urlpatterns = [
    path("", views.feed, name="feed"),
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
