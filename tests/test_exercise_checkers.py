"""Every exercise checker fails a plausible wrong answer with a useful message, and
answers "not started yet" to the TODO stub. (That each passes a right answer is
shown by the solution notebooks, whose stored outputs nbval compares.)"""
import re

import pytest
from django.contrib.auth import get_user_model
from djangochannelsrestframework.decorators import action
from djangochannelsrestframework.generics import GenericAsyncAPIConsumer
from djangochannelsrestframework.mixins import (
    CreateModelMixin,
    DeleteModelMixin,
    ListModelMixin,
    PatchModelMixin,
    RetrieveModelMixin,
)
from djangochannelsrestframework.observer import model_observer
from djangochannelsrestframework.permissions import AllowAny, IsAuthenticated
from rest_framework.exceptions import Throttled
from rest_framework.permissions import IsAuthenticatedOrReadOnly as DRFIsAuthenticatedOrReadOnly

from notebook_runtime.checks import ch01, ch02, ch03, ch04, ch05, ch06
from notebook_runtime.checks.verdict import FAILED, NOT_STARTED
from social.hashtags import hashtags_in, parse_hashtag
from social.models import Post
from social.serializers import PostSerializer

pytestmark = pytest.mark.django_db(transaction=True)


def stub(*args, **kwargs):
    raise NotImplementedError()


async def async_stub(*args, **kwargs):
    raise NotImplementedError()


def assert_fails(verdict, behaviour_pattern, hint_pattern):
    """The verdict fails, names the behaviour, and gives a hint: no traceback."""
    text = str(verdict)
    assert not verdict.passed, text
    assert text.startswith(FAILED), text
    assert "Traceback" not in text
    matching = [f for f in verdict.failures if re.search(behaviour_pattern, f.behaviour)]
    assert matching, text
    assert re.search(hint_pattern, matching[0].hint), text
    assert "sent:" in text and "expected:" in text and "got:" in text and "hint:" in text


def assert_not_started(verdict):
    assert verdict.not_started and str(verdict).startswith(NOT_STARTED), str(verdict)
    assert "not started yet" in str(verdict)


# 01 ---------------------------------------------------------------------------


async def test_newest_bodies_oldest_first_fails():
    async def newest_bodies(n):
        return [p.body async for p in Post.objects.order_by("created_at")[:n]]

    assert_fails(await ch01.check_newest_bodies(newest_bodies), "newest first", "-created_at")


async def test_newest_bodies_sync_fails():
    def newest_bodies(n):
        return []

    assert_fails(await ch01.check_newest_bodies(newest_bodies), "async function", "async def")


async def test_count_posts_by_counts_everyone_fails():
    async def count_posts_by(username):
        return await Post.objects.acount()

    assert_fails(await ch01.check_count_posts_by(count_posts_by), "counts", "author__username")


async def test_chapter_01_stubs_are_not_started():
    assert_not_started(await ch01.check_newest_bodies(async_stub))
    assert_not_started(await ch01.check_count_posts_by(async_stub))


# 02 ---------------------------------------------------------------------------


class EmptyListForNobody(GenericAsyncAPIConsumer):
    """Answers an unknown username with an empty list instead of a 404."""

    queryset = Post.objects.all()
    permission_classes = (AllowAny,)

    @action()
    def posts_by(self, username=None, **kwargs):
        posts = Post.objects.filter(author__username=username).order_by("-created_at", "-pk")
        return PostSerializer(posts, many=True).data, 200


class EveryonesPosts(EmptyListForNobody):
    @action()
    def posts_by(self, username=None, **kwargs):
        get_user_model().objects.get(username=username)
        return PostSerializer(Post.objects.order_by("-created_at", "-pk"), many=True).data, 200


class CrashesOnNobody(EmptyListForNobody):
    @action()
    def posts_by(self, username=None, **kwargs):
        author = get_user_model().objects.get(username=username)  # DoesNotExist: not an API error
        posts = Post.objects.filter(author=author).order_by("-created_at", "-pk")
        return PostSerializer(posts, many=True).data, 200


async def test_empty_list_for_an_unknown_user_fails():
    assert_fails(await ch02.check_posts_by(EmptyListForNobody), "404", "NotFound")


async def test_posts_of_everyone_fail():
    assert_fails(await ch02.check_posts_by(EveryonesPosts), "author's posts only", "Filter")


async def test_a_non_api_error_for_an_unknown_user_fails():
    assert_fails(await ch02.check_posts_by(CrashesOnNobody), "without raising", "error it gives")


class CreateConsumer(CreateModelMixin, GenericAsyncAPIConsumer):
    queryset = Post.objects.all()
    serializer_class = PostSerializer
    permission_classes = (AllowAny,)
    max_posts_per_minute = 3


class SharedLimit(CreateConsumer):
    """Counts on the class: every connection shares one budget."""

    created = []

    def perform_create(self, serializer, **kwargs):
        if len(SharedLimit.created) >= self.max_posts_per_minute:
            raise Throttled()
        SharedLimit.created.append(1)
        super().perform_create(serializer, **kwargs)


class LimitAfterSaving(CreateConsumer):
    def perform_create(self, serializer, **kwargs):
        super().perform_create(serializer, **kwargs)
        self.count = getattr(self, "count", 0) + 1
        if self.count > self.max_posts_per_minute:
            raise Throttled()


async def test_rate_limit_on_the_class_fails():
    SharedLimit.created.clear()
    assert_fails(await ch02.check_rate_limit(SharedLimit), "per connection", "instance")


async def test_rate_limit_after_saving_fails():
    assert_fails(await ch02.check_rate_limit(LimitAfterSaving), "not stored", "perform_create")


async def test_chapter_02_stubs_are_not_started():
    class Stubbed(EmptyListForNobody):
        @action()
        def posts_by(self, **kwargs):
            raise NotImplementedError()

    class StubbedLimit(CreateConsumer):
        perform_create = stub

    assert_not_started(await ch02.check_posts_by(Stubbed))
    assert_not_started(await ch02.check_rate_limit(StubbedLimit))


# 03 ---------------------------------------------------------------------------


async def test_drf_read_only_permission_fails():
    assert_fails(
        await ch03.check_write_permission(DRFIsAuthenticatedOrReadOnly), "no user at all", "DCRF"
    )


async def test_permission_that_forgets_retrieve_fails():
    class IsAuthenticatedForWrite(IsAuthenticated):
        async def has_permission(self, scope, consumer, action, **kwargs):
            if action == "list":
                return True
            return await super().has_permission(scope, consumer, action, **kwargs)

    assert_fails(await ch03.check_write_permission(IsAuthenticatedForWrite), "retrieve", "read")


class AuthorConsumer(PatchModelMixin, DeleteModelMixin, RetrieveModelMixin, GenericAsyncAPIConsumer):
    queryset = Post.objects.all()
    serializer_class = PostSerializer
    permission_classes = (IsAuthenticated,)


async def test_author_filter_that_forgets_delete_fails():
    class ForgetsDelete(AuthorConsumer):
        def filter_queryset(self, queryset, **kwargs):
            if kwargs.get("action") == "patch":
                return queryset.filter(author=self.scope["user"])
            return queryset

    assert_fails(await ch03.check_author_only(ForgetsDelete), "delete", "author")


async def test_author_filter_on_retrieve_too_fails():
    class HidesEverything(AuthorConsumer):
        def filter_queryset(self, queryset, **kwargs):
            return queryset.filter(author=self.scope["user"])

    assert_fails(await ch03.check_author_only(HidesEverything), "retrieve", "patch and delete only")


async def test_chapter_03_stubs_are_not_started():
    class Stubbed(IsAuthenticated):
        has_permission = async_stub

    class StubbedConsumer(AuthorConsumer):
        filter_queryset = stub

    assert_not_started(await ch03.check_write_permission(Stubbed))
    assert_not_started(await ch03.check_author_only(StubbedConsumer))


# 04 ---------------------------------------------------------------------------


async def test_hashtag_groups_with_the_articles_rule_fail():
    import re as regex

    def groups_for_signal(instance):
        for tag in regex.findall(r"#[a-z0-9]+", instance.body.lower()):
            yield f"-hashtag-{tag}"

    def groups_for_consumer(hashtag):
        yield f"-hashtag-#{hashtag}"

    assert_fails(await ch04.check_hashtag_groups(groups_for_signal, groups_for_consumer), "Café", "Unicode")


async def test_hashtag_groups_that_do_not_meet_fail():
    def groups_for_signal(instance):
        for tag in hashtags_in(instance.body):
            yield f"-hashtag-#{tag}"

    def groups_for_consumer(hashtag):
        yield f"-hashtag-{parse_hashtag(hashtag)}"

    assert_fails(
        await ch04.check_hashtag_groups(groups_for_signal, groups_for_consumer), "receives", "exactly the"
    )


def list_consumer(subscribe, unsubscribe):
    class FollowList(GenericAsyncAPIConsumer):
        queryset = Post.objects.all()
        permission_classes = (AllowAny,)

        @model_observer(Post)
        async def activity(self, message, observer=None, action=None, **kwargs):
            await self.send_json({"action": action, **message})

        @activity.groups_for_signal
        def activity(self, instance, **kwargs):
            yield "-all"
            for tag in sorted(hashtags_in(instance.body)):
                yield f"-hashtag-{tag}"

        @activity.groups_for_consumer
        def activity(self, hashtag=None, all_posts=False, **kwargs):
            if all_posts:
                yield "-all"
            if hashtag is not None:
                yield f"-hashtag-{hashtag}"

        @action()
        async def subscribe_to_hashtag(self, hashtag, **kwargs):
            await self.activity.subscribe(hashtag=parse_hashtag(hashtag), request_id="subscribed")
            return {}, 201

        subscribe_to_list = action()(subscribe)
        unsubscribe_from_list = action()(unsubscribe)

    return FollowList


async def test_list_subscription_without_request_id_fails():
    async def subscribe(self, **kwargs):
        await self.activity.subscribe(all_posts=True)
        return {}, 201

    async def unsubscribe(self, **kwargs):
        await self.activity.unsubscribe(all_posts=True)
        return {}, 204

    assert_fails(
        await ch04.check_follow_list(list_consumer(subscribe, unsubscribe)), "no more posts", "request_id"
    )


async def test_chapter_04_stubs_are_not_started():
    assert_not_started(await ch04.check_hashtag_groups(stub, stub))
    assert_not_started(await ch04.check_follow_list(list_consumer(async_stub, async_stub)))
    assert_not_started(await ch04.check_author_groups(stub, stub))


async def test_author_groups_that_query_fail():
    def groups_for_signal(instance):
        yield f"-author-{instance.author.pk}"

    def groups_for_consumer(author_id):
        yield f"-author-{author_id}"

    assert_fails(await ch04.check_author_groups(groups_for_signal, groups_for_consumer), "no database query", "author_id")


# 05 ---------------------------------------------------------------------------


async def test_serializer_comparing_action_with_a_string_fails():
    def serializer(instance, action):
        if action == "delete":
            return {"pk": instance.pk}
        return {"pk": instance.pk, "data": {"body": instance.body}}

    assert_fails(await ch05.check_event_serializer(serializer), "delete", "Action.DELETE")


async def test_serializer_sending_a_datetime_fails():
    from djangochannelsrestframework.observer.model_observer import Action

    def serializer(instance, action):
        if action is Action.DELETE:
            return {"pk": instance.pk}
        return {"pk": instance.pk, "data": {"body": instance.body, "at": instance.created_at}}

    assert_fails(await ch05.check_event_serializer(serializer), "plain data", "datetimes")


async def test_mentions_for_everyone_fail():
    def groups_for_signal(instance):
        if "@" in instance.body:
            yield "-mentions"

    def groups_for_consumer(user):
        yield "-mentions"

    assert_fails(await ch05.check_mentions(groups_for_signal, groups_for_consumer), "not mentioned", "Only")


async def test_chapter_05_stubs_are_not_started():
    assert_not_started(await ch05.check_event_serializer(stub))
    assert_not_started(await ch05.check_mentions(stub, stub))


# 06 ---------------------------------------------------------------------------


async def test_a_test_that_checks_nothing_fails():
    async def test_event_arrives(consumer_class, author):
        pass

    assert_fails(await ch06.check_event_arrives_test(test_event_arrives), "no event", "Assert")


async def test_a_no_event_test_that_never_unsubscribes_fails():
    from notebook_runtime import communicate

    async def test_no_event(consumer_class, author):
        async with await communicate(None, consumer_class.as_asgi()) as bob:
            await bob.request("subscribe_to_hashtag", hashtag="python")
            await bob.request("list")

    assert_fails(await ch06.check_no_event_test(test_no_event), "keeps the subscription", "Assert")


async def test_chapter_06_stubs_are_not_started():
    assert_not_started(await ch06.check_event_arrives_test(async_stub))
    assert_not_started(await ch06.check_no_event_test(async_stub))
