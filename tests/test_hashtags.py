"""The one hashtag rule: '#' then Unicode letters, digits or underscores, any case."""

import re

import pytest

from social.hashtags import hashtags_in, parse_hashtag


def test_finds_each_tag_once_in_canonical_form():
    assert hashtags_in("Check #Django and #python, #PYTHON!") == {"django", "python"}


def test_keeps_letters_the_article_rule_drops():
    body = "Un #café à #東京 avec #Ünïcödé_2"
    assert re.findall(r"#[a-z0-9]+", body.lower()) == ["#caf"]  # the article's rule
    assert hashtags_in(body) == {"café", "東京", "ünïcödé_2"}


def test_decomposed_accents_are_one_letter():
    # "e" + COMBINING ACUTE ACCENT, as some keyboards and macOS file names produce.
    assert hashtags_in("#cafe\u0301") == {"café"}
    assert parse_hashtag("cafe\u0301") == "café"


def test_case_folding_is_unicode_aware():
    assert hashtags_in("#Straße") == {"strasse"}
    assert parse_hashtag("#STRASSE") == "strasse"


def test_tag_ends_at_the_first_other_character():
    assert hashtags_in("#well-known #a.b #x#y") == {"well", "a", "x", "y"}
    assert hashtags_in("no tags, just a # sign") == set()


@pytest.mark.parametrize("sent", ["python", "#python", "Python", "#PYTHON"])
def test_subscribing_accepts_the_tag_with_or_without_hash(sent):
    assert parse_hashtag(sent) == "python"


def test_subscription_and_post_meet():
    for tag in ["#Café", "#日本", "#snake_case", "#2024"]:
        assert parse_hashtag(tag) in hashtags_in(f"A post about {tag.upper()}")


@pytest.mark.parametrize(
    "sent, message",
    [
        ("", "at least one"),
        ("#", "at least one"),
        ("two words", "only letters"),
        ("#a-b", "only letters"),
        ("x" * 65, "at most 64"),
    ],
)
def test_rejects_what_is_not_a_hashtag(sent, message):
    with pytest.raises(ValueError, match=message):
        parse_hashtag(sent)


def test_sixty_four_characters_is_the_limit():
    assert parse_hashtag("#" + "x" * 64) == "x" * 64
