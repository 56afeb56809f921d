"""LivePostConsumer: the social network's API and its live events, on one WebSocket.

Requests and replies use DCRF's envelope:

    -> {"action": "list", "request_id": 42, "body_contains": "python"}
    <- {"action": "list", "request_id": 42, "response_status": 200, "errors": [], "data": [...]}

Events pushed to subscribers are the source article's shapes:

    {"action": "create", "pk": 23, "data": {"body": "Hello #NewDay"}}
    {"action": "update", "pk": 23, "data": {"body": "Hello again #NewDay"}}
    {"action": "delete", "pk": 23}

A post that matches several of a connection's subscriptions (two of its hashtags,
or a hashtag and the whole list) arrives once per matching subscription: clients
deduplicate by pk.
"""

import json

from djangochannelsrestframework.decorators import action
from djangochannelsrestframework.generics import GenericAsyncAPIConsumer
from djangochannelsrestframework.mixins import (
    CreateModelMixin,
    DeleteModelMixin,
    ListModelMixin,
    PatchModelMixin,
    RetrieveModelMixin,
)
from djangochannelsrestframework.observer.model_observer import Action
from rest_framework import serializers

from .auth import check_still_signed_in
from .dispatching import DispatchInTurnMixin
from .envelope import EnvelopeMixin
from .hashtags import hashtags_in
from .limits import LimitsMixin, SlowReader, check_post_rate, check_subscription_room
from .memberships import GroupRenewalMixin
from .models import Post
from .observers import model_observer
from .outages import LayerOutageMixin
from .permissions import IsAuthenticatedForWrite
from .serializers import HashtagSubscriptionSerializer, PostSerializer

# The feed shows at most this many posts, newest first.
LIST_LIMIT = 500

# DCRF removes a connection from a group on unsubscribe only if it has a record
# of the subscription: one made with a request_id, or one that has received an
# event. Unsubscribing from a subscription made without a request_id (as in the
# source article) before any event arrived silently does nothing. Events here
# carry no request_id, so every subscription is recorded under this one key.
SUBSCRIBED = "subscribed"

ALL_POSTS_GROUP = "-all"

# The channel-layer message type of the observer's events (DCRF names it after the
# handler: post_change_handler -> "post.change.handler").
OBSERVER_EVENT_TYPE = "post.change.handler"


def hashtag_group(tag: str) -> str:
    """The group of a canonical tag. DCRF hashes group names before they reach the
    channel layer, so any Unicode tag makes a valid name."""
    return f"-hashtag-{tag}"


class LivePostConsumer(
    LayerOutageMixin,
    LimitsMixin,
    GroupRenewalMixin,
    EnvelopeMixin,
    ListModelMixin,
    RetrieveModelMixin,
    CreateModelMixin,
    PatchModelMixin,
    DeleteModelMixin,
    DispatchInTurnMixin,
    GenericAsyncAPIConsumer,
):
    """One instance per open WebSocket connection."""

    # Every reply that shows a post names its author (PostSerializer's
    # author_username): load the author in the same query, not once per post.
    queryset = Post.objects.select_related("author")
    serializer_class = PostSerializer
    permission_classes = (IsAuthenticatedForWrite,)

    def filter_queryset(self, queryset, **kwargs):
        queryset = super().filter_queryset(queryset, **kwargs)
        action_name = kwargs.get("action")
        if action_name == "list":
            body_contains = kwargs.get("body_contains")
            if body_contains is not None:
                text = serializers.CharField(allow_blank=True, max_length=256)
                queryset = queryset.filter(
                    body__icontains=_validated("body_contains", text, body_contains)
                )
            return queryset.order_by("-created_at", "-pk")[:LIST_LIMIT]
        if action_name == "retrieve":
            return queryset
        # patch and delete: a user sees only their own posts, so someone else's
        # post answers 404 and does not even reveal that it exists.
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return queryset.none()
        return queryset.filter(author_id=user.pk)

    async def dispatch(self, message):
        # Since Channels 4.2, dispatch() first awaits aclose_old_connections(), a
        # hop to the one thread that runs synchronous database code, for every
        # message: every live event for every subscriber included. An event
        # touches no database, so it skips the hop (measured: `make bench`).
        try:
            if message["type"] == OBSERVER_EVENT_TYPE:
                await self.post_change_handler(message)
            else:
                await super().dispatch(message)
        except SlowReader:
            await self.drop_slow_reader()

    # Each write checks that the connection's sign-in still holds (auth.py).

    def perform_create(self, serializer, **kwargs):
        check_still_signed_in(self.scope)
        check_post_rate(self.scope["user"], Post.objects)
        super().perform_create(serializer, **kwargs)

    def perform_patch(self, serializer, **kwargs):
        check_still_signed_in(self.scope)
        super().perform_patch(serializer, **kwargs)

    def perform_delete(self, instance, **kwargs):
        check_still_signed_in(self.scope)
        super().perform_delete(instance, **kwargs)

    def get_object(self, **kwargs):
        if "pk" not in kwargs:
            raise serializers.ValidationError({"pk": ["This field is required."]})
        kwargs["pk"] = _validated("pk", serializers.IntegerField(), kwargs["pk"])
        return super().get_object(**kwargs)

    # Live events -------------------------------------------------------------

    @model_observer(Post)
    async def post_change_handler(self, message, observer=None, **kwargs):
        """Runs once per subscribed connection, for each group the event reaches.

        `message` is the serializer's output: the event already encoded, so each
        subscriber costs a send, not a JSON encoding.
        """
        await self.send(text_data=message["text"])

    @post_change_handler.groups_for_signal
    def post_change_handler(self, instance: Post, **kwargs):
        """The groups an event about `instance` goes to.

        Runs whenever a Post is loaded or saved, subscribers or not: it must not
        query the database.
        """
        yield ALL_POSTS_GROUP
        for tag in sorted(hashtags_in(instance.body)):
            yield hashtag_group(tag)

    @post_change_handler.groups_for_consumer
    def post_change_handler(self, hashtag=None, all_posts=False, **kwargs):
        """The groups a subscription joins; they must be named as above."""
        if all_posts:
            yield ALL_POSTS_GROUP
        if hashtag is not None:
            yield hashtag_group(hashtag)

    @post_change_handler.serializer
    def post_change_handler(self, instance: Post, action: Action, **kwargs):
        """Runs once per change, before the event crosses the channel layer.

        It builds the whole event, the action included (DCRF would otherwise pass
        the action to the handler separately), and encodes it to JSON here, once,
        however many subscribers there are. `action` is DCRF's Action enum, not a
        string. What this returns travels through the channel layer, so it must be
        plain data (msgpack for Redis): here, one string.
        """
        if action is Action.DELETE:
            event = {"action": action.value, "pk": instance.pk}
        else:
            event = {"action": action.value, "pk": instance.pk, "data": {"body": instance.body}}
        return {"text": json.dumps(event)}

    def subscription_groups(self, **subscription):
        """The channel-layer groups a subscription joins, as they appear in self.groups."""
        return self.post_change_handler.group_names_for_consumer(**subscription)

    @action()
    async def subscribe_to_hashtag(self, hashtag, **kwargs):
        tag = _validated_hashtag(hashtag)
        check_subscription_room(self.groups, self.subscription_groups(hashtag=tag))
        await self.post_change_handler.subscribe(hashtag=tag, request_id=SUBSCRIBED)
        return {}, 201

    @action()
    async def unsubscribe_from_hashtag(self, hashtag, **kwargs):
        await self.post_change_handler.unsubscribe(hashtag=_validated_hashtag(hashtag))
        return {}, 204

    @action()
    async def subscribe_to_list(self, **kwargs):
        check_subscription_room(self.groups, self.subscription_groups(all_posts=True))
        await self.post_change_handler.subscribe(all_posts=True, request_id=SUBSCRIBED)
        return {}, 201

    @action()
    async def unsubscribe_from_list(self, **kwargs):
        await self.post_change_handler.unsubscribe(all_posts=True)
        return {}, 204


def _validated(name, field, value):
    """Run one DRF field's validation, reporting errors under the message key `name`."""
    try:
        return field.run_validation(value)
    except serializers.ValidationError as error:
        raise serializers.ValidationError({name: error.detail}) from error


def _validated_hashtag(hashtag):
    subscription = HashtagSubscriptionSerializer(data={"hashtag": hashtag})
    subscription.is_valid(raise_exception=True)
    return subscription.validated_data["hashtag"]
