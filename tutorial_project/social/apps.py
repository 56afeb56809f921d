from django.apps import AppConfig


class SocialConfig(AppConfig):
    """The social network: posts, the live post API and its events."""

    name = "social"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Defining LivePostConsumer connects its model observer to Post's signals.
        # Importing it here, when the app loads, means a post saved by any process
        # that loads the project (a shell, a management command, a worker) sends its
        # live event, not only a process that happened to import the consumer.
        from . import consumers  # noqa: F401
