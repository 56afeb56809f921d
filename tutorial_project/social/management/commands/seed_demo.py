"""`manage.py seed_demo`: a few users and posts, so a demo starts with a feed."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from social.models import Post

DEMO_POSTS = [
    ("alice", "Hello, realtime world! #Django #Channels"),
    ("bob", "WebSockets make the feed feel alive #Python"),
    ("carol", "Un café et du code #café #python"),
    ("alice", "Subscribing to #Python so I never miss a post"),
    ("bob", "Long day; time for #BeerTime"),
]


class Command(BaseCommand):
    help = "Create the demo users (alice, bob, carol) and a few posts. Safe to run twice."

    # No transaction.atomic here: get_or_create inside one would use savepoints,
    # which DCRF's model observer does not support (it warns, and events may be lost).
    def handle(self, *args, **options):
        User = get_user_model()
        users = {}
        for username in sorted({username for username, _ in DEMO_POSTS}):
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            users[username] = user
        created = 0
        for username, body in DEMO_POSTS:
            _, was_created = Post.objects.get_or_create(author=users[username], body=body)
            created += was_created
        self.stdout.write(self.style.SUCCESS(f"{len(users)} demo users, {created} new posts."))
