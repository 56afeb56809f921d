"""The one hashtag rule, shared by posts (which groups an event goes to) and
subscriptions (which groups a connection joins), so that the two always meet.

A hashtag is '#' followed by one or more Unicode letters, digits or underscores
(Python's ``\\w``). Tags compare case-insensitively: "#Café", "#CAFÉ" and "#café"
are one tag. The source article used ``#[a-z0-9]+`` on the lowered body, which
cuts "#café" down to "#caf" and drops "#日本" entirely.
"""

import re
import unicodedata

HASHTAG_PATTERN = re.compile(r"#(\w+)")
TAG_PATTERN = re.compile(r"\w+")
MAX_HASHTAG_LENGTH = 64


def normalize_tag(tag: str) -> str:
    """Return the canonical form of a tag (without its '#').

    NFC first, so that an "é" typed as "e" plus a combining accent is one letter;
    then casefold, the Unicode way to compare without case ("Straße" == "STRASSE").
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", tag).casefold())


def hashtags_in(text: str) -> set[str]:
    """The canonical tags a post body carries, each once."""
    return {
        normalize_tag(tag) for tag in HASHTAG_PATTERN.findall(unicodedata.normalize("NFC", text))
    }


def parse_hashtag(value: str) -> str:
    """Turn what a client sent ("python" or "#Python") into the canonical tag.

    Raises ValueError with a message fit for the client when it is not a hashtag.
    """
    tag = value[1:] if value.startswith("#") else value
    tag = unicodedata.normalize("NFC", tag)
    if not tag:
        raise ValueError("A hashtag needs at least one letter, digit or underscore.")
    if len(tag) > MAX_HASHTAG_LENGTH:
        raise ValueError(
            f"A hashtag has at most {MAX_HASHTAG_LENGTH} characters (it has {len(tag)})."
        )
    if not TAG_PATTERN.fullmatch(tag):
        raise ValueError("A hashtag holds only letters, digits and underscores.")
    return normalize_tag(tag)
