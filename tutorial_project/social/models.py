from django.conf import settings
from django.db import models


class Post(models.Model):
    """A short public message; the unit everything in the network shares."""

    created_at = models.DateTimeField(auto_now_add=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts"
    )
    body = models.CharField(max_length=256)

    class Meta:
        # pk breaks ties between posts created in the same microsecond.
        ordering = ["-created_at", "-pk"]
        indexes = [
            # Serves the feed: "the newest posts first".
            models.Index(fields=["-created_at", "-id"], name="post_newest_first"),
            # Serves the rate limit: "this author's posts of the last minute".
            models.Index(fields=["author", "created_at"], name="post_author_recent"),
        ]

    def __str__(self):
        return f"#{self.pk} by {self.author_id}: {self.body[:40]}"
