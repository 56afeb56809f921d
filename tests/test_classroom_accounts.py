"""`manage.py classroom_accounts`: the learners' accounts and tokens, the sheet, --revoke."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

from social.auth import token_expires_at as expires_at
from social.management.commands import classroom_accounts
from social.management.commands.classroom_accounts import CLASSROOM_GROUP

pytestmark = pytest.mark.django_db

User = get_user_model()


def run(*args, stdin=None, **options):
    """Run the command; (its stdout, its stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    if stdin is not None:
        options["stdin"] = io.StringIO(stdin)
    call_command("classroom_accounts", *args, stdout=stdout, stderr=stderr, **options)
    return stdout.getvalue(), stderr.getvalue()


@pytest.fixture
def names_file(tmp_path):
    """Write `lines` to a names file; its path, as a string."""

    def write(*lines):
        path = tmp_path / "names.txt"
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        return str(path)

    return write


def rows_of(csv_text):
    return list(csv.DictReader(io.StringIO(csv_text)))


def tokens_by_username():
    return dict(Token.objects.values_list("user__username", "key"))


def test_an_account_and_a_token_for_each_learner(names_file):
    path = names_file(
        "# Workshop, Saturday",
        "Ada Lovelace",
        "",
        "   Zoë Çelik  ",
        "Ada Lovelace",
        "   ",
        "  # a comment, indented",
        "!!!",
    )
    out, err = run(path, "--format", "csv", "--url", "https://class.example/")

    rows = rows_of(out)
    assert out.splitlines()[0] == "name,username,token,expires,url"
    assert [(row["name"], row["username"]) for row in rows] == [
        ("Ada Lovelace", "ada-lovelace"),
        ("Zoë Çelik", "zoë-çelik"),
        ("Ada Lovelace", "ada-lovelace-2"),  # two of the same name: two accounts
        ("!!!", "learner"),  # a name that makes no username
    ]
    assert {row["username"]: row["token"] for row in rows} == tokens_by_username()
    assert {row["url"] for row in rows} == {"https://class.example/"}
    for row in rows:
        user = User.objects.get(username=row["username"])
        assert user.first_name == row["name"]
        assert list(user.groups.values_list("name", flat=True)) == [CLASSROOM_GROUP]
        assert not user.has_usable_password()
        assert not user.is_staff and not user.is_superuser
        token = Token.objects.get(user=user)
        assert datetime.fromisoformat(row["expires"]) == token.created + timedelta(days=7)
    assert User.objects.count() == 4
    assert err == "4 accounts: 4 created, 0 reused; 4 tokens issued.\n"


def test_the_sheet_has_a_slip_per_learner(names_file):
    out, err = run(names_file("Ada Lovelace", "Grace Hopper"), "--url", "https://class.example/")

    ada = Token.objects.get(user__username="ada-lovelace")
    until = f"{expires_at(ada).astimezone(UTC):%Y-%m-%d %H:%M}"
    slips = out.split("✂\n")
    assert len(slips) == 3 and slips[2] == ""
    assert slips[0] == (
        f"Ada Lovelace  (username: ada-lovelace, token valid until {until} UTC)\n"
        'Paste into your notebook\'s "Join the class" cell:\n'
        '    CLASS_URL = "https://class.example/"\n'
        f'    CLASS_TOKEN = "{ada.key}"\n'
        "------------------------------------------------ "
    )
    grace = Token.objects.get(user__username="grace-hopper")
    assert slips[1].startswith("Grace Hopper  (username: grace-hopper, ")
    assert f'    CLASS_TOKEN = "{grace.key}"\n' in slips[1]
    # The summary goes to stderr, so that `> sheet.txt` keeps only the slips.
    assert "accounts" not in out
    assert err == "2 accounts: 2 created, 0 reused; 2 tokens issued.\n"


def test_without_url_the_sheet_says_where_to_find_it(names_file):
    out, _ = run(names_file("Ada Lovelace"))
    assert '    CLASS_URL = "the address your instructor shows"\n' in out


def test_running_again_changes_nothing(names_file):
    path = names_file("Ada Lovelace", "Zoë Çelik", "Ada Lovelace")
    first, _ = run(path, "--format", "csv")
    users = set(User.objects.values_list("pk", "username"))
    tokens = tokens_by_username()

    again, err = run(path, "--format", "csv")

    assert again == first
    assert set(User.objects.values_list("pk", "username")) == users
    assert tokens_by_username() == tokens
    assert err == "3 accounts: 0 created, 3 reused; 0 tokens issued.\n"


def test_a_longer_list_adds_only_the_new_learners(names_file):
    run(names_file("Ada Lovelace"), "--format", "csv")
    ada_token = tokens_by_username()["ada-lovelace"]

    out, err = run(names_file("Ada Lovelace", "Grace Hopper"), "--format", "csv")

    assert [row["username"] for row in rows_of(out)] == ["ada-lovelace", "grace-hopper"]
    assert tokens_by_username()["ada-lovelace"] == ada_token
    assert err == "2 accounts: 1 created, 1 reused; 1 tokens issued.\n"


def test_an_account_outside_the_class_is_never_touched(names_file):
    instructor = User.objects.create_user(
        "ada-lovelace", password="instructor's own", first_name="Instructor", is_staff=True
    )
    instructor_token = Token.objects.create(user=instructor)
    before = User.objects.filter(pk=instructor.pk).values().get()

    out, err = run(names_file("Ada Lovelace"), "--format", "csv")

    [row] = rows_of(out)
    assert row["username"] == "ada-lovelace-2"
    assert row["token"] != instructor_token.key
    assert User.objects.filter(pk=instructor.pk).values().get() == before
    instructor.refresh_from_db()
    assert instructor.check_password("instructor's own")
    assert not instructor.groups.exists()
    assert Token.objects.get(user=instructor).key == instructor_token.key
    learner = User.objects.get(username="ada-lovelace-2")
    assert learner.groups.filter(name=CLASSROOM_GROUP).exists() and not learner.is_staff
    assert err == "1 accounts: 1 created, 0 reused; 1 tokens issued.\n"

    # And again: the learner's own account is reused, the instructor's still skipped.
    out, err = run(names_file("Ada Lovelace"), "--format", "csv")
    assert rows_of(out) == [row]
    assert err == "1 accounts: 0 created, 1 reused; 0 tokens issued.\n"


def test_a_namesake_differing_only_in_case_is_not_the_learner(names_file):
    User.objects.create_user("Ada-Lovelace")
    out, _ = run(names_file("Ada Lovelace"), "--format", "csv")
    assert [row["username"] for row in rows_of(out)] == ["ada-lovelace-2"]


def test_an_expired_token_is_replaced_and_valid_ones_are_kept(names_file, settings):
    settings.SOCIAL_TOKEN_MAX_AGE_DAYS = 0.5
    path = names_file("Ada Lovelace", "Grace Hopper")
    run(path)
    before = tokens_by_username()
    now = timezone.now()
    Token.objects.filter(user__username="ada-lovelace").update(created=now - timedelta(hours=13))
    Token.objects.filter(user__username="grace-hopper").update(created=now - timedelta(hours=11))

    out, err = run(path, "--format", "csv")

    after = tokens_by_username()
    assert after["ada-lovelace"] != before["ada-lovelace"]
    assert after["grace-hopper"] == before["grace-hopper"]
    assert Token.objects.count() == 2
    new = Token.objects.get(user__username="ada-lovelace")
    assert new.created > now
    assert {row["username"]: row["token"] for row in rows_of(out)} == after
    expires = {row["username"]: datetime.fromisoformat(row["expires"]) for row in rows_of(out)}
    assert expires["ada-lovelace"] == new.created + timedelta(hours=12)
    assert err == "2 accounts: 0 created, 2 reused; 1 tokens issued.\n"


def test_revoke_deletes_the_class_tokens_only(names_file):
    run(names_file("Ada Lovelace", "Grace Hopper"))
    outsider = User.objects.create_user("instructor")
    outsider_token = Token.objects.create(user=outsider)

    out, _ = run(revoke=True)

    assert out == f"Revoked 2 tokens of the {CLASSROOM_GROUP} group.\n"
    assert list(Token.objects.values_list("key", flat=True)) == [outsider_token.key]
    # The accounts stay (their posts with them); only the way in is gone.
    assert User.objects.filter(groups__name=CLASSROOM_GROUP).count() == 2

    out, _ = run("--revoke")
    assert out == f"Revoked 0 tokens of the {CLASSROOM_GROUP} group.\n"


def test_names_from_stdin():
    out, err = run("-", "--format", "csv", stdin="Ada Lovelace\n\n# not a name\nGrace Hopper\n")
    assert [row["username"] for row in rows_of(out)] == ["ada-lovelace", "grace-hopper"]
    assert set(tokens_by_username()) == {"ada-lovelace", "grace-hopper"}
    assert err.startswith("2 accounts: 2 created")


def test_a_missing_names_file_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read .*missing.txt"):
        run(str(tmp_path / "missing.txt"))
    assert not User.objects.exists()


def test_a_list_without_names_is_an_error(names_file):
    with pytest.raises(CommandError, match="No names"):
        run(names_file("# nobody yet", ""))
    assert not User.objects.exists()


def test_neither_names_nor_revoke_is_an_error():
    with pytest.raises(CommandError, match="NAMES_FILE"):
        run()


def test_both_names_and_revoke_is_an_error(names_file):
    run(names_file("Ada Lovelace"))
    with pytest.raises(CommandError, match="not both"):
        run(names_file("Grace Hopper"), "--revoke")
    assert set(tokens_by_username()) == {"ada-lovelace"}  # neither revoked nor added


def test_a_failure_part_way_leaves_nothing_behind(names_file, monkeypatch):
    """One transaction: the first learners' accounts go if a later one fails."""
    usable_token_for = classroom_accounts.usable_token_for

    def fail_on_grace(user):
        if user.username == "grace-hopper":
            raise RuntimeError("database went away")
        return usable_token_for(user)

    monkeypatch.setattr(classroom_accounts, "usable_token_for", fail_on_grace)
    with pytest.raises(RuntimeError):
        run(names_file("Ada Lovelace", "Grace Hopper"))
    assert not User.objects.exists()
    assert not Token.objects.exists()
    assert not Group.objects.filter(name=CLASSROOM_GROUP).exists()
