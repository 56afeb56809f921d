from rest_framework import serializers

from .hashtags import parse_hashtag
from .models import Post


class PostSerializer(serializers.ModelSerializer):
    """A post as the API shows it. The author is whoever is signed in on the
    connection, never a value from the message.

    author_username saves every client a request per author to show a name. It
    reads post.author, so a queryset serialized with many=True must
    select_related("author"), or each post costs a query (LivePostConsumer does).
    """

    author_username = serializers.CharField(source="author.username", read_only=True)

    class Meta:
        model = Post
        fields = ["created_at", "author", "author_username", "body", "pk"]
        read_only_fields = ["author", "created_at", "pk"]

    def create(self, validated_data):
        validated_data["author"] = self.context["scope"]["user"]
        return super().create(validated_data)


class HashtagField(serializers.Field):
    """A hashtag as a client sends it: a string, with or without its '#'."""

    default_error_messages = {"not_a_string": "A hashtag must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        try:
            return parse_hashtag(data)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from error

    def to_representation(self, value):
        return value


class HashtagSubscriptionSerializer(serializers.Serializer):
    """Validates the arguments of subscribe_to_hashtag and unsubscribe_from_hashtag."""

    hashtag = HashtagField()
