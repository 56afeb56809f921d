"""The live feed page in a real headless Chromium (Playwright), against the
in-process server: signing in, two users, live posts and their authors, edits,
deletes, text-only bodies, and reconnection after the server restarts."""

import asyncio
import os
from collections import defaultdict

import pytest
from channels.layers import InMemoryChannelLayer
from playwright.async_api import async_playwright, expect
from redis.exceptions import ConnectionError as RedisConnectionError

from notebook_runtime import LiveServer
from notebook_runtime.browser import INSTALL_HINT, launch_chromium

pytestmark = pytest.mark.django_db(transaction=True)

LIVE = 2000  # ms: how soon a post must appear on another user's page


@pytest.fixture
async def browser():
    async with async_playwright() as playwright:
        try:
            chromium = await launch_chromium(playwright)
        except RuntimeError:
            if os.environ.get("CI"):
                raise  # CI installs Chromium: a missing browser is a failure there
            pytest.skip(INSTALL_HINT)
        yield chromium
        await chromium.close()


@pytest.fixture
async def open_page(browser, asgi_server):
    """Open the feed signed in as `username` (None: a guest), each in its own
    browser context (its own cookies), waiting until the page is live.

    A JavaScript error on any of the pages fails the test, with the page's own
    message and stack (raising inside Playwright's event callback would not)."""
    page_errors = []

    async def open_as(username=None, server=asgi_server):
        context = await browser.new_context()
        page = await context.new_page()
        page.on("pageerror", lambda error: page_errors.append(f"{error.message}\n{error.stack}"))
        # Opening the sign-in URL by hand, as a learner would: it lands on the feed.
        target = f"/login/{username}/" if username else "/"
        await page.goto(server.url + target)
        await expect(page).to_have_url(server.url + "/")
        await expect(page.locator("#status")).to_have_attribute("data-state", "live")
        return page

    yield open_as
    assert not page_errors, "JavaScript errors on the page:\n" + "\n".join(page_errors)


async def post_from(page, body):
    await page.fill("#compose-body", body)
    await page.click("#compose button")
    await expect(page.locator("#compose-body")).to_have_value("")


async def follow(page, tag):
    await page.fill("#filter-tag", tag)
    await page.click("#add-filter button")
    await expect(page.locator("#filter-list")).to_contain_text(tag)


def post_on(page, text):
    return page.locator("#feed .post .body", has_text=text)


async def test_subscriber_sees_a_post_live(open_page):
    alice = await open_page("alice")
    bob = await open_page("bob")
    await follow(bob, "#python")
    await post_from(alice, "Not for bob #django")
    await post_from(alice, "Hello #python")
    await expect(post_on(bob, "Hello #python")).to_be_visible(timeout=LIVE)
    await expect(post_on(bob, "Not for bob")).to_have_count(0)
    await expect(post_on(alice, "Not for bob")).to_be_visible()  # alice follows every post


async def test_posts_are_signed_with_their_authors_name(open_page):
    alice = await open_page("alice")
    bob = await open_page("bob")
    await post_from(alice, "Signed by me")
    live = bob.locator("#feed .post", has_text="Signed by me")  # fetched on its event
    await expect(live.locator(".author")).to_have_text("alice", timeout=LIVE)
    mine = alice.locator("#feed .post", has_text="Signed by me")
    await expect(mine.locator(".author")).to_have_text("you")
    listed = (await open_page()).locator("#feed .post", has_text="Signed by me")  # the list
    await expect(listed.locator(".author")).to_have_text("alice")


async def test_a_guest_signs_in_with_the_form(open_page, asgi_server):
    guest = await open_page()
    await guest.fill("#sign-in-name", "carol")
    await guest.click("#sign-in button")
    await expect(guest.locator("#username")).to_have_text("carol")
    await expect(guest).to_have_url(asgi_server.url + "/")
    await expect(guest.locator("#compose")).to_be_visible()


async def test_the_limit_is_shown_as_you_type(open_page):
    alice = await open_page("alice")
    await alice.fill("#compose-body", "Hello")
    await expect(alice.locator("#compose-count")).to_have_text("5 / 256")
    await alice.fill("#compose-body", "x" * 300)  # the textarea stops at the limit
    await expect(alice.locator("#compose-count")).to_have_text("256 / 256")


async def test_edits_and_deletes_reach_other_pages(open_page):
    alice = await open_page("alice")
    bob = await open_page("bob")
    await post_from(alice, "First draft")
    await expect(post_on(bob, "First draft")).to_be_visible(timeout=LIVE)
    await expect(bob.locator("#feed .post .edit")).to_have_count(0)  # not bob's post

    mine = alice.locator("#feed .post", has_text="First draft")
    await mine.locator(".edit").click()
    await alice.fill("#feed .post .edit-body", "Final version")
    await alice.click("#feed .post .save")
    await expect(post_on(bob, "Final version")).to_be_visible(timeout=LIVE)

    await alice.locator("#feed .post", has_text="Final version").locator(".delete").click()
    await expect(bob.locator("#feed .post")).to_have_count(0, timeout=LIVE)


async def test_clicking_a_tag_follows_it(open_page):
    alice = await open_page("alice")
    bob = await open_page("bob")
    await post_from(alice, "Try #Django today")
    await bob.locator("#feed .post .tag", has_text="#Django").click()
    await expect(bob.locator("#filter-list")).to_contain_text("#django")
    await post_from(alice, "Unrelated")
    await post_from(alice, "More #django")
    await expect(post_on(bob, "More #django")).to_be_visible(timeout=LIVE)
    await expect(post_on(bob, "Unrelated")).to_have_count(0)


async def test_post_bodies_are_text_never_html(open_page):
    alice = await open_page("alice")
    bob = await open_page("bob")
    dialogs = []
    bob.on("dialog", lambda dialog: dialogs.append(dialog.message))
    attack = '<img src=x onerror="window.pwned = true; alert(1)"> <b>bold</b>'
    await post_from(alice, attack)
    await expect(post_on(bob, "<img src=x")).to_have_text(attack, timeout=LIVE)
    assert await bob.locator("#feed img, #feed b").count() == 0
    assert await bob.evaluate("window.pwned") is None
    assert dialogs == []


async def test_page_reconnects_restores_its_subscription_and_refreshes(open_page, asgi_server):
    from asgiref.sync import sync_to_async
    from django.contrib.auth import get_user_model

    from social.models import Post

    alice = await open_page("alice")
    bob = await open_page("bob")
    await follow(bob, "#python")

    port = asgi_server.port
    await asgi_server.stop()
    await expect(bob.locator("#status")).to_have_attribute("data-state", "reconnecting")
    author = await get_user_model().objects.aget(username="alice")
    await sync_to_async(Post.objects.create)(
        author=author, body="Written while you were away #python"
    )

    async with LiveServer(port=port):
        await expect(bob.locator("#status")).to_have_attribute("data-state", "live", timeout=10_000)
        await expect(post_on(bob, "while you were away")).to_be_visible()  # refreshed
        await expect(alice.locator("#status")).to_have_attribute(
            "data-state", "live", timeout=10_000
        )
        await post_from(alice, "Back online #python")
        await expect(post_on(bob, "Back online")).to_be_visible(timeout=LIVE)
        await expect(bob.locator("#filter-list")).to_contain_text("#python")


async def test_a_connection_over_the_users_limit_says_why_on_the_page(
    open_page, browser, asgi_server
):
    from django.conf import settings
    from django.test import override_settings

    with override_settings(SOCIAL_LIMITS={**settings.SOCIAL_LIMITS, "CONNECTIONS_PER_USER": 1}):
        await open_page("alice")
        context = await browser.new_context()
        second_tab = await context.new_page()
        await second_tab.goto(asgi_server.url + "/login/alice/")
        status = second_tab.locator("#status")
        await expect(status).to_have_attribute("data-state", "reconnecting")
        await expect(status).to_contain_text("too many open connections for your account")
        await expect(status).to_contain_text("reconnecting in 15 s")


class LayerLostOnceSubscribed(InMemoryChannelLayer):
    """Fails a connection's receive as channels_redis does when Redis goes away,
    once the connection has subscribed: the page is open and live first."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.subscribed = defaultdict(asyncio.Event)

    async def group_add(self, group, channel):
        await super().group_add(group, channel)
        self.subscribed[channel].set()

    async def receive(self, channel):
        await self.subscribed[channel].wait()
        raise RedisConnectionError("Connection closed by server (test)")


async def test_a_lost_channel_layer_says_so_on_the_page(browser, asgi_server):
    from django.test import override_settings

    layers = {"default": {"BACKEND": f"{__name__}.LayerLostOnceSubscribed"}}
    with override_settings(CHANNEL_LAYERS=layers):
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(asgi_server.url + "/login/alice/")
        status = page.locator("#status")
        await expect(status).to_contain_text("live updates are interrupted on the server")
        await expect(status).to_contain_text("reconnecting in 5 s")
        await context.close()


async def test_a_followed_tag_matches_posts_as_the_server_folds_case(open_page):
    """The page and the server compare tags the same way, also where case folding
    differs from lower case: "#Straße" is "#STRASSE" (both fold to "strasse")."""

    async def follow_strasse(page):
        await page.fill("#filter-tag", "#Straße")
        await page.click("#add-filter button")
        await expect(page.locator("#filter-list")).to_contain_text("#strasse")

    alice = await open_page("alice")
    bob = await open_page("bob")
    await follow_strasse(bob)
    await post_from(alice, "Closed today #STRASSE")
    await expect(post_on(bob, "Closed today")).to_be_visible(timeout=LIVE)
    await bob.reload()  # the refreshed feed filters with the same rule
    await expect(bob.locator("#status")).to_have_attribute("data-state", "live")
    await follow_strasse(bob)
    await expect(post_on(bob, "Closed today")).to_be_visible(timeout=LIVE)


async def test_the_page_says_live_only_once_its_subscriptions_are_restored(browser, asgi_server):
    """ "live" promises that a post made now will arrive: the page must not say it
    while its subscribe request is still unanswered. The replies are held back
    (Playwright's WebSocket routing) until the test has looked."""
    subscribe_sent = asyncio.Event()
    release = asyncio.Event()

    async def hold_replies(page_socket):
        server_socket = page_socket.connect_to_server()

        def to_server(message):
            if '"subscribe_to_hashtag"' in message:
                subscribe_sent.set()
            server_socket.send(message)

        async def to_page(message):
            await release.wait()
            page_socket.send(message)

        page_socket.on_message(to_server)
        server_socket.on_message(to_page)

    context = await browser.new_context()
    page = await context.new_page()
    await page.route_web_socket("**/ws/", hold_replies)
    await page.goto(asgi_server.url + "/?tag=workshop")
    await asyncio.wait_for(subscribe_sent.wait(), timeout=10)
    # The tag from the link is shown at once, but the page is not live yet.
    assert await page.inner_text("#filter-list") == "#workshop ✕"
    assert await page.get_attribute("#status", "data-state") == "connecting"
    release.set()
    await expect(page.locator("#status")).to_have_attribute("data-state", "live")
    await context.close()


class GroupsUnreachableUntilReleased(InMemoryChannelLayer):
    """Refuses every group_add, as channels_redis does while Redis is away, until
    the test sets `reachable`."""

    reachable = None  # an asyncio.Event, set by the test

    async def group_add(self, group, channel):
        if not self.reachable.is_set():
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379 (test)")
        await super().group_add(group, channel)


async def test_a_page_whose_subscribe_is_refused_is_not_live_and_tries_again(browser, asgi_server):
    """While Redis is away a subscribe answers 503: the page says why, does not
    claim to be live, and reconnects until its subscription is restored."""
    from django.test import override_settings

    GroupsUnreachableUntilReleased.reachable = asyncio.Event()
    layers = {"default": {"BACKEND": f"{__name__}.GroupsUnreachableUntilReleased"}}
    with override_settings(CHANNEL_LAYERS=layers):
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(asgi_server.url + "/?tag=workshop")
        await expect(page.locator("#filter-summary")).to_contain_text(
            "Live updates are unavailable"
        )
        await expect(page.locator("#status")).to_have_attribute("data-state", "reconnecting")
        GroupsUnreachableUntilReleased.reachable.set()
        await expect(page.locator("#status")).to_have_attribute(
            "data-state", "live", timeout=10_000
        )
        await expect(page.locator("#filter-summary")).to_contain_text(
            "Showing posts with the hashtags"
        )
        await context.close()
