"""Every exercise checker fails a plausible wrong answer with a useful message, and
answers "not started yet" to the TODO stub. (That each passes a right answer is
shown by the solution notebooks, whose stored outputs nbval compares.)

Each wrong answer ("mutant") is one a learner could write: it breaks one rule of
the exercise's statement, and the verdict must name that rule and give a hint
that fits the mistake."""

import ast
import inspect
import os
import re
import sys
import textwrap
import time
from collections import deque
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from djangochannelsrestframework.decorators import action
from djangochannelsrestframework.generics import GenericAsyncAPIConsumer
from djangochannelsrestframework.mixins import (
    CreateModelMixin,
    DeleteModelMixin,
    PatchModelMixin,
    RetrieveModelMixin,
)
from djangochannelsrestframework.observer import model_observer
from djangochannelsrestframework.permissions import AllowAny, IsAuthenticated
from rest_framework.exceptions import NotFound, Throttled
from rest_framework.permissions import IsAuthenticatedOrReadOnly as DRFIsAuthenticatedOrReadOnly

from notebook_runtime.checks import ch01, ch02, ch03, ch04, ch05, ch06
from notebook_runtime.checks.verdict import FAILED, NOT_CHECKED, NOT_STARTED, PASSED
from social.hashtags import hashtags_in, parse_hashtag
from social.models import Post
from social.serializers import PostSerializer

pytestmark = pytest.mark.django_db(transaction=True)


def stub(*args, **kwargs):
    raise NotImplementedError()


async def async_stub(*args, **kwargs):
    raise NotImplementedError()


# What each mutant's verdict said, for instructors/exercise-mistakes.md (see the last
# test of this module): test name -> (exercise, failing behaviour, hint).
MISTAKES: dict[str, tuple[str, str, str]] = {}


def assert_fails(verdict, behaviour_pattern, hint_pattern):
    """The verdict fails, names the behaviour, and gives a hint: no traceback. Every
    behaviour the checker declared is listed, right, wrong or not checked."""
    text = str(verdict)
    assert not verdict.passed, text
    assert text.startswith(FAILED), text
    assert "Traceback" not in text
    matching = [f for f in verdict.failures if re.search(behaviour_pattern, f.behaviour)]
    assert matching, text
    assert re.search(hint_pattern, matching[0].hint), text
    assert "got:" in text and "hint:" in text, text
    assert_lists_every_behaviour(verdict)
    test_name = os.environ["PYTEST_CURRENT_TEST"].split("::")[-1].split(" ")[0]
    MISTAKES.setdefault(test_name, (verdict.exercise, matching[0].behaviour, matching[0].hint))
    return matching[0]


def assert_lists_every_behaviour(verdict):
    text = str(verdict)
    for behaviour in verdict.behaviours:
        assert any(
            line.strip() in (f"{mark} {behaviour}" for mark in (PASSED, FAILED, NOT_CHECKED))
            for line in text.splitlines()
        ), f"{behaviour!r} is not listed:\n{text}"
    assert f"of {len(verdict.behaviours)} behaviours" in text.splitlines()[0], text


def assert_compares(verdict, behaviour_pattern):
    """The failure shows what was sent and what was expected, not only what came back."""
    failure = next(f for f in verdict.failures if re.search(behaviour_pattern, f.behaviour))
    assert failure.sent and failure.expected, str(verdict)


def assert_not_started(verdict):
    text = str(verdict)
    assert verdict.not_started and text.startswith(NOT_STARTED), text
    assert "not started yet" in text
    assert all(f"  - {behaviour}" in text for behaviour in verdict.behaviours), text


def assert_stopped_after(verdict, behaviour_pattern, reason):
    """The failing behaviour is followed only by behaviours not checked, for `reason`."""
    names = verdict.behaviours
    index = next(i for i, name in enumerate(names) if re.search(behaviour_pattern, name))
    assert verdict.not_checked == names[index + 1 :], str(verdict)
    if verdict.not_checked:
        assert f"not checked: {reason}" in str(verdict), str(verdict)


# 01 ---------------------------------------------------------------------------


async def test_newest_bodies_oldest_first_fails():
    async def newest_bodies(n):
        return [p.body async for p in Post.objects.order_by("created_at")[:n]]

    verdict = await ch01.check_newest_bodies(newest_bodies)
    assert_fails(verdict, "newest first", "-created_at")
    assert_compares(verdict, "newest first")


async def test_newest_bodies_sync_fails():
    def newest_bodies(n):
        return []

    verdict = await ch01.check_newest_bodies(newest_bodies)
    assert_fails(verdict, "async function", "async def")
    assert_stopped_after(
        verdict, "async function", "it needs the failing check above to pass first"
    )


async def test_newest_posts_instead_of_bodies_fail():
    async def newest_bodies(n):
        return [p async for p in Post.objects.order_by("-created_at", "-pk")[:n]]

    assert_fails(await ch01.check_newest_bodies(newest_bodies), "list of strings", r"post\.body")


async def test_newest_bodies_without_the_pk_tie_break_fail():
    async def newest_bodies(n):
        return [p.body async for p in Post.objects.order_by("-created_at")[:n]]

    verdict = await ch01.check_newest_bodies(newest_bodies)
    assert_fails(verdict, "then -pk", r'order_by\("-created_at", "-pk"\)')
    assert [f.behaviour for f in verdict.failures] == [verdict.behaviours[3]], str(verdict)


async def test_newest_bodies_through_sync_to_async_fail():
    from asgiref.sync import sync_to_async

    async def newest_bodies(n):
        newest = Post.objects.order_by("-created_at", "-pk")[:n]
        return await sync_to_async(lambda: [p.body for p in newest])()

    assert_fails(await ch01.check_newest_bodies(newest_bodies), "async ORM", "async for")


async def test_count_posts_by_counts_everyone_fails():
    async def count_posts_by(username):
        return await Post.objects.acount()

    assert_fails(await ch01.check_count_posts_by(count_posts_by), "counts", "author__username")


async def test_count_posts_by_in_a_loop_fails():
    async def count_posts_by(username):
        return len([post async for post in Post.objects.filter(author__username=username)])

    assert_fails(await ch01.check_count_posts_by(count_posts_by), "one COUNT query", "acount")


async def test_count_posts_by_looking_the_user_up_first_fails():
    async def count_posts_by(username):
        user = await get_user_model().objects.filter(username=username).afirst()
        if user is None:
            return 0
        return await Post.objects.filter(author=user).acount()

    assert_fails(
        await ch01.check_count_posts_by(count_posts_by), "one COUNT query", "no user lookup"
    )


async def test_count_posts_by_with_the_sync_orm_names_the_error():
    async def count_posts_by(username):
        return Post.objects.filter(author__username=username).count()

    verdict = await ch01.check_count_posts_by(count_posts_by)
    failure = assert_fails(verdict, "async function", "acount")
    assert failure.got.startswith("SynchronousOnlyOperation"), str(verdict)
    assert "Post.objects.filter(author__username=username).count()" in failure.raised_at
    assert_stopped_after(verdict, "async function", "an earlier step raised")


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


class OwnFields(EmptyListForNobody):
    """Replies with fields of its own choosing instead of PostSerializer's."""

    @action()
    def posts_by(self, username=None, **kwargs):
        if not get_user_model().objects.filter(username=username).exists():
            raise NotFound()
        posts = Post.objects.filter(author__username=username).order_by("-created_at", "-pk")
        return list(posts.values("pk", "body")), 200


class DataWithoutStatus(EmptyListForNobody):
    @action()
    def posts_by(self, username=None, **kwargs):
        posts = Post.objects.filter(author__username=username).order_by("-created_at", "-pk")
        return PostSerializer(posts, many=True).data


async def test_empty_list_for_an_unknown_user_fails():
    assert_fails(await ch02.check_posts_by(EmptyListForNobody), "404", "NotFound")


async def test_posts_of_everyone_fail():
    assert_fails(await ch02.check_posts_by(EveryonesPosts), "author's posts only", "Filter")


async def test_a_non_api_error_for_an_unknown_user_names_the_exception_and_the_line():
    verdict = await ch02.check_posts_by(CrashesOnNobody)
    text = str(verdict)
    failure = assert_fails(verdict, "does not exist answers 404", "NotFound")
    assert failure.got.startswith("DoesNotExist: User matching query does not exist"), text
    assert (
        "test_exercise_checkers.py: author = get_user_model().objects.get(username=username)"
        in text
    )
    assert re.search(r"at: +line \d+ of test_exercise_checkers\.py", text), text
    assert "Run your exercise cell on its own" not in text
    assert f"{PASSED} posts_by returns that author's posts only" in text
    assert f"{NOT_CHECKED} the connection still answers after the 404" in text
    assert_stopped_after(verdict, "does not exist", "an earlier step raised")


async def test_fields_of_ones_own_instead_of_the_serializer_fail():
    assert_fails(await ch02.check_posts_by(OwnFields), "PostSerializer", "PostSerializer")


async def test_an_action_that_returns_no_status_is_told_to_return_a_pair():
    verdict = await ch02.check_posts_by(DataWithoutStatus)
    failure = assert_fails(verdict, "author's posts only", r"return data, status")
    assert "no reply to 'posts_by' arrived within 2 s" in failure.got, str(verdict)


class CreateConsumer(CreateModelMixin, GenericAsyncAPIConsumer):
    queryset = Post.objects.all()
    serializer_class = PostSerializer
    permission_classes = (AllowAny,)
    max_posts_per_minute = 3
    clock = time.monotonic


class SharedLimit(CreateConsumer):
    """Counts on the class: every connection shares one budget."""

    created = deque()

    def perform_create(self, serializer, **kwargs):
        now = self.clock()
        while SharedLimit.created and now - SharedLimit.created[0] > 60:
            SharedLimit.created.popleft()
        if len(SharedLimit.created) >= self.max_posts_per_minute:
            raise Throttled()
        SharedLimit.created.append(now)
        super().perform_create(serializer, **kwargs)


class LimitAfterSaving(CreateConsumer):
    def perform_create(self, serializer, **kwargs):
        super().perform_create(serializer, **kwargs)
        self.count = getattr(self, "count", 0) + 1
        if self.count > self.max_posts_per_minute:
            raise Throttled()


class SlidingLimit(CreateConsumer):
    """The solution's sliding window, with the parts a mutant may replace."""

    limit_of = staticmethod(lambda consumer: consumer.max_posts_per_minute)

    def now(self):
        return self.clock()

    def perform_create(self, serializer, **kwargs):
        now = self.now()
        if not hasattr(self, "recent_posts"):
            self.recent_posts = deque()
        while self.recent_posts and now - self.recent_posts[0] > 60:
            self.recent_posts.popleft()
        if len(self.recent_posts) >= self.limit_of(self):
            raise Throttled()
        self.recent_posts.append(now)
        super().perform_create(serializer, **kwargs)


async def test_sliding_limit_passes():
    verdict = await ch02.check_rate_limit(SlidingLimit)
    assert verdict.passed, str(verdict)


async def test_rate_limit_on_the_class_fails():
    SharedLimit.created.clear()
    assert_fails(await ch02.check_rate_limit(SharedLimit), "per connection", "instance")


async def test_rate_limit_after_saving_fails():
    assert_fails(await ch02.check_rate_limit(LimitAfterSaving), "not stored", "perform_create")


async def test_rate_limit_that_never_forgets_fails():
    class NeverForgets(CreateConsumer):
        def perform_create(self, serializer, **kwargs):
            self.posts = getattr(self, "posts", 0)
            if self.posts >= self.max_posts_per_minute:
                raise Throttled()
            self.posts += 1
            super().perform_create(serializer, **kwargs)

    assert_fails(await ch02.check_rate_limit(NeverForgets), "free again", r"older than 60 seconds")


async def test_rate_limit_reading_time_monotonic_directly_fails():
    class OwnClock(SlidingLimit):
        def now(self):
            return time.monotonic()

    assert_fails(await ch02.check_rate_limit(OwnClock), "free again", r"self\.clock\(\)")


async def test_rate_limit_that_starts_afresh_every_minute_fails():
    class FixedWindow(CreateConsumer):
        def perform_create(self, serializer, **kwargs):
            now = self.clock()
            if not hasattr(self, "window_start") or now - self.window_start > 60:
                self.window_start, self.count = now, 0
            if self.count >= self.max_posts_per_minute:
                raise Throttled()
            self.count += 1
            super().perform_create(serializer, **kwargs)

    assert_fails(await ch02.check_rate_limit(FixedWindow), "window slides", "afresh")


async def test_rate_limit_with_the_number_written_in_fails():
    class Hardcoded(SlidingLimit):
        limit_of = staticmethod(lambda consumer: 3)

    assert_fails(await ch02.check_rate_limit(Hardcoded), "429", "max_posts_per_minute")


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


async def test_permission_for_list_and_retrieve_only_fails_to_let_anyone_follow():
    class IsAuthenticatedForWrite(IsAuthenticated):
        async def has_permission(self, scope, consumer, action, **kwargs):
            if action in ("list", "retrieve"):
                return True
            return await super().has_permission(scope, consumer, action, **kwargs)

    assert_fails(
        await ch03.check_write_permission(IsAuthenticatedForWrite), "follow", "READ_ACTIONS"
    )


async def test_permission_that_guards_create_only_fails():
    class IsAuthenticatedForWrite(IsAuthenticated):
        async def has_permission(self, scope, consumer, action, **kwargs):
            if action == "create":
                return await super().has_permission(scope, consumer, action, **kwargs)
            return True

    assert_fails(
        await ch03.check_write_permission(IsAuthenticatedForWrite),
        "patch or delete",
        "not only create",
    )


class AuthorConsumer(
    PatchModelMixin, DeleteModelMixin, RetrieveModelMixin, GenericAsyncAPIConsumer
):
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


async def test_author_filter_that_returns_nothing_for_other_actions_fails():
    class ForgetsToReturn(AuthorConsumer):
        def filter_queryset(self, queryset, **kwargs):
            if kwargs.get("action") in ("patch", "delete"):
                return queryset.filter(author=self.scope["user"])

    verdict = await ch03.check_author_only(ForgetsToReturn)
    failure = assert_fails(verdict, "returns a queryset", "return queryset")
    assert "'retrieve'" in failure.sent and failure.got == "NoneType None", str(verdict)
    assert_stopped_after(
        verdict, "returns a queryset", "it needs the failing check above to pass first"
    )


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

    assert_fails(
        await ch04.check_hashtag_groups(groups_for_signal, groups_for_consumer), "Café", "Unicode"
    )


async def test_hashtag_groups_that_do_not_meet_fail():
    def groups_for_signal(instance):
        for tag in hashtags_in(instance.body):
            yield f"-hashtag-#{tag}"

    def groups_for_consumer(hashtag):
        yield f"-hashtag-{parse_hashtag(hashtag)}"

    verdict = await ch04.check_hashtag_groups(groups_for_signal, groups_for_consumer)
    failure = assert_fails(verdict, "receives", "exactly the")
    assert failure.got == "nothing arrived within 2 s", str(verdict)
    assert "null" not in str(verdict)


async def test_hashtag_groups_returned_instead_of_yielded_name_the_shape():
    def groups_for_signal(instance):
        for tag in sorted(hashtags_in(instance.body)):
            return f"-hashtag-{tag}"

    def groups_for_consumer(hashtag):
        return f"-hashtag-{parse_hashtag(hashtag)}"

    verdict = await ch04.check_hashtag_groups(groups_for_signal, groups_for_consumer)
    failure = assert_fails(verdict, "give group names", "letter by letter")
    assert failure.hint == (
        "groups_for_signal returned the string '-hashtag-python'; yield each group name (or "
        "return a list of names): a string is iterated letter by letter."
    ), str(verdict)
    assert len(verdict.failures) == 1, "no hint about group names that do not meet"
    assert_stopped_after(
        verdict, "give group names", "it needs the failing check above to pass first"
    )


async def test_hashtag_groups_for_the_first_tag_only_fail():
    import re as regex

    def groups_for_signal(instance):
        first = regex.search(r"#(\w+)", instance.body)
        if first:
            yield f"-hashtag-{parse_hashtag(first[1])}"

    def groups_for_consumer(hashtag):
        yield f"-hashtag-{parse_hashtag(hashtag)}"

    assert_fails(
        await ch04.check_hashtag_groups(groups_for_signal, groups_for_consumer),
        "two hashtags",
        "every tag",
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
        await ch04.check_follow_list(list_consumer(subscribe, unsubscribe)),
        "no more posts",
        "request_id",
    )


async def test_half_finished_list_subscription_points_at_the_stub_left():
    async def subscribe(self, **kwargs):
        await self.activity.subscribe(all_posts=True, request_id="subscribed")
        return {}, 201

    verdict = await ch04.check_follow_list(list_consumer(subscribe, async_stub))
    failure = assert_fails(
        verdict, "unsubscribe_from_list answers 204", "raise NotImplementedError"
    )
    assert not verdict.not_started and "still the TODO stub" in failure.got, str(verdict)
    assert verdict.checked == verdict.behaviours[:2], str(verdict)


async def test_chapter_04_stubs_are_not_started():
    assert_not_started(await ch04.check_hashtag_groups(stub, stub))
    assert_not_started(await ch04.check_follow_list(list_consumer(async_stub, async_stub)))
    assert_not_started(await ch04.check_author_groups(stub, stub))


async def test_author_groups_that_query_fail():
    def groups_for_signal(instance):
        yield f"-author-{instance.author.pk}"

    def groups_for_consumer(author_id):
        yield f"-author-{author_id}"

    verdict = await ch04.check_author_groups(groups_for_signal, groups_for_consumer)
    assert_fails(verdict, "no database query", "author_id")


async def test_author_group_returned_as_a_string_names_the_shape():
    def groups_for_signal(instance):
        return f"-author-{instance.author_id}"

    def groups_for_consumer(author_id):
        yield f"-author-{author_id}"

    verdict = await ch04.check_author_groups(groups_for_signal, groups_for_consumer)
    assert_fails(verdict, "give group names", "returned the string '-author-")


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


async def test_serializer_returning_json_text_fails():
    import json

    from djangochannelsrestframework.observer.model_observer import Action

    def event_serializer(instance, action):
        if action is Action.DELETE:
            return json.dumps({"pk": instance.pk})
        return json.dumps({"pk": instance.pk, "data": {"body": instance.body}})

    verdict = await ch05.check_event_serializer(event_serializer)
    failure = assert_fails(verdict, "returns a dict", "json.dumps")
    assert failure.got.startswith("str "), str(verdict)


async def test_mentions_for_everyone_fail():
    def groups_for_signal(instance):
        if "@" in instance.body:
            yield "-mentions"

    def groups_for_consumer(user):
        yield "-mentions"

    assert_fails(
        await ch05.check_mentions(groups_for_signal, groups_for_consumer), "not mentioned", "Only"
    )


MENTION = re.compile(r"@(\w+)")


def mention_groups_for_signal(instance):
    for name in sorted({name.casefold() for name in MENTION.findall(instance.body)}):
        yield f"-mention-{name}"


async def test_mentions_that_lower_case_only_the_body_fail():
    def mention_groups_for_consumer(user):
        yield f"-mention-{user.username}"

    assert_fails(
        await ch05.check_mentions(mention_groups_for_signal, mention_groups_for_consumer),
        "capitals",
        "both sides",
    )


async def test_mentions_that_look_the_users_up_fail():
    def groups_for_signal(instance):
        names = {name.casefold() for name in MENTION.findall(instance.body)}
        for user in get_user_model().objects.all():
            if user.username.casefold() in names:
                yield f"-mention-{user.username.casefold()}"

    def groups_for_consumer(user):
        yield f"-mention-{user.username.casefold()}"

    assert_fails(
        await ch05.check_mentions(groups_for_signal, groups_for_consumer),
        "no database query",
        "body",
    )


async def test_mention_group_returned_as_a_string_names_the_shape():
    def groups_for_consumer(user):
        return f"-mention-{user.username.casefold()}"

    verdict = await ch05.check_mentions(mention_groups_for_signal, groups_for_consumer)
    assert_fails(
        verdict,
        "give group names",
        "groups_for_consumer returned the string '-mention-checker_bob'",
    )


async def test_chapter_05_stubs_are_not_started():
    assert_not_started(await ch05.check_event_serializer(stub))
    assert_not_started(await ch05.check_mentions(stub, stub))


# 06 ---------------------------------------------------------------------------


async def test_a_test_that_checks_nothing_fails():
    async def test_event_arrives(consumer_class, author):
        pass

    assert_fails(await ch06.check_event_arrives_test(test_event_arrives), "no event", "Assert")


async def test_a_test_that_checks_only_the_pk_fails():
    from asgiref.sync import sync_to_async

    from notebook_runtime import communicate

    async def test_event_arrives(consumer_class, author):
        async with await communicate(None, consumer_class.as_asgi()) as bob:
            await bob.request("subscribe_to_hashtag", hashtag="python")
            post = await sync_to_async(Post.objects.create)(author=author, body="Hi #python")
            event = await bob.next_message(timeout=2)
            assert event["pk"] == post.pk

    verdict = await ch06.check_event_arrives_test(test_event_arrives)
    assert_fails(verdict, "leave out the body", "whole event")
    assert verdict.checked == verdict.behaviours[:2], str(verdict)


async def test_a_no_event_test_that_never_unsubscribes_fails():
    from notebook_runtime import communicate

    async def test_no_event(consumer_class, author):
        async with await communicate(None, consumer_class.as_asgi()) as bob:
            await bob.request("subscribe_to_hashtag", hashtag="python")
            await bob.request("list")

    assert_fails(await ch06.check_no_event_test(test_no_event), "keeps the subscription", "Assert")


async def test_a_no_event_test_that_waits_and_hopes_fails():
    from asgiref.sync import sync_to_async

    from notebook_runtime import communicate

    async def test_no_event(consumer_class, author):
        async with await communicate(None, consumer_class.as_asgi()) as bob:
            await bob.request("subscribe_to_hashtag", hashtag="python")
            await bob.request("unsubscribe_from_hashtag", hashtag="python")
            await sync_to_async(Post.objects.create)(author=author, body="unseen #python")
            try:
                event = await bob.next_message(timeout=1)
            except TimeoutError:
                return  # nothing came within a second: "so nothing will"
            raise AssertionError(f"expected nothing, got {event}")

    verdict = await ch06.check_no_event_test(test_no_event)
    assert_fails(verdict, "comes late", "sentinel")
    assert verdict.checked == verdict.behaviours[:2], str(verdict)


async def test_chapter_06_stubs_are_not_started():
    assert_not_started(await ch06.check_event_arrives_test(async_stub))
    assert_not_started(await ch06.check_no_event_test(async_stub))


# The instructors' page of common mistakes ---------------------------------------

MISTAKES_PAGE = Path(__file__).resolve().parent.parent / "instructors" / "exercise-mistakes.md"


def mutant_tests() -> dict[str, str]:
    """The tests of this module that fail a wrong answer, with their source."""
    module = sys.modules[__name__]
    return {
        name: inspect.getsource(function)
        for name, function in vars(module).items()
        if name.startswith("test_")
        and callable(function)
        and "assert_fails(" in inspect.getsource(function)
    }


def wrong_code(source: str) -> str:
    """The learner's wrong answer inside a mutant test: its nested defs and classes."""
    test = ast.parse(textwrap.dedent(source)).body[0]
    lines = textwrap.dedent(source).splitlines()
    parts = [
        "\n".join(lines[node.lineno - 1 - len(node.decorator_list) : node.end_lineno])
        for node in test.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]
    return textwrap.dedent("\n\n".join(parts))


def mistakes_page(recorded, sources) -> str:
    lines = [
        "# Common exercise mistakes",
        "",
        "Each exercise checker is tested against wrong answers a learner could write (the",
        '"mutants" in `tests/test_exercise_checkers.py`). This page is generated from those tests',
        "by `make instructors`: the wrong code, the rule the checker marks ✘, and the hint it gives.",
        "`make test` fails when the page and the tests disagree.",
    ]
    by_exercise: dict[str, list[str]] = {}
    for name in sources:
        exercise, behaviour, hint = recorded[name]
        mistake = name.removeprefix("test_").replace("_", " ")
        code = wrong_code(sources[name])
        entry = [f"### {mistake[0].upper()}{mistake[1:]}", ""]
        if code:
            entry += ["```python", code, "```", ""]
        # A user's id in a group name differs from run to run: "'-author-<id>'".
        hint = re.sub(r"(?<=-)\d+(?=')", "<id>", hint)
        entry += [f"- **Marked ✘**: {behaviour}", f"- **Hint**: {hint}", ""]
        by_exercise.setdefault(exercise, []).extend(entry)
    for exercise in sorted(by_exercise):
        lines += ["", f"## {exercise}", "", *by_exercise[exercise]]
    return "\n".join(lines).rstrip() + "\n"


def test_the_instructors_page_of_mistakes_is_up_to_date():
    """Runs last: it needs every mutant's verdict. WRITE_MISTAKES=1 writes the page."""
    sources = mutant_tests()
    if set(MISTAKES) != set(sources):
        pytest.skip("run the whole module to compare the page of mistakes")
    page = mistakes_page(MISTAKES, sources)
    if os.environ.get("WRITE_MISTAKES"):
        MISTAKES_PAGE.write_text(page)
    assert MISTAKES_PAGE.read_text() == page, "run `make instructors`"
