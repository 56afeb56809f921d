"""manage.py classroom_accounts: one account and sign-in token per learner, and a
sheet to hand out.

A workshop's class server (README, "Classroom mode") needs an account for each
learner before the room arrives, and each learner's notebook needs a token to sign
in with (social/auth.py). Learners get no password: the token is their only way in,
it expires with SOCIAL_TOKEN_MAX_AGE_DAYS, and `--revoke` ends them all.

The command can be run again with the same or a longer list: learners keep their
accounts and unexpired tokens, so a lost sheet can be reprinted. Accounts outside
the classroom group (the instructor's, the admin's) are never touched, even when a
learner's name would give the same username.
"""
import csv
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify
from rest_framework.authtoken.models import Token

from social.auth import token_expires_at, usable_token_for

CLASSROOM_GROUP = "classroom"
URL_PLACEHOLDER = "the address your instructor shows"
CUT_LINE = "-" * 60 + " ✂"


class Command(BaseCommand):
    # call_command(..., stdin=file) reads the names from `file`, as createsuperuser does.
    stealth_options = ("stdin",)
    help = (
        "Create an account and a sign-in token for each learner named in NAMES_FILE "
        "(one name per line, '-' for stdin) and print a sheet to hand out; or, with "
        "--revoke, delete every learner's token."
    )

    def add_arguments(self, parser):
        parser.add_argument("names_file", nargs="?", metavar="NAMES_FILE")
        parser.add_argument("--url", default="", help="the class server's address, printed on the sheet")
        parser.add_argument("--format", choices=["sheet", "csv"], default="sheet")
        parser.add_argument(
            "--revoke", action="store_true", help="delete the tokens of every learner in the class"
        )

    def handle(self, *args, names_file, url, format, revoke, **options):
        if revoke == bool(names_file):
            raise CommandError("Give a NAMES_FILE (or '-' for stdin), or --revoke; not both.")
        if revoke:
            revoked, _ = Token.objects.filter(user__groups__name=CLASSROOM_GROUP).delete()
            self.stdout.write(f"Revoked {revoked} learner token(s).")
            return
        names = self.read_names(names_file, options.get("stdin") or sys.stdin)
        if not names:
            raise CommandError(f"No names in {names_file}: write one learner's name per line.")
        with transaction.atomic():
            learners = self.accounts_for(names)
        if format == "csv":
            self.write_csv(learners, url)
        else:
            self.write_sheet(learners, url or URL_PLACEHOLDER)
        created = sum(1 for learner in learners if learner["created"])
        self.stderr.write(
            f"{len(learners)} accounts: {created} created, {len(learners) - created} reused."
        )

    def read_names(self, names_file, stdin):
        if names_file == "-":
            text = stdin.read()
        else:
            try:
                with open(names_file, encoding="utf-8") as file:
                    text = file.read()
            except OSError as error:
                raise CommandError(f"Cannot read {names_file}: {error.strerror}.") from error
        lines = (line.strip() for line in text.splitlines())
        return [line for line in lines if line and not line.startswith("#")]

    def accounts_for(self, names):
        group, _ = Group.objects.get_or_create(name=CLASSROOM_GROUP)
        handed_out = set()
        learners = []
        for name in names:
            user, created = self.account_for(name, group, handed_out)
            handed_out.add(user.username)
            token = usable_token_for(user)
            learners.append(
                {"name": name, "user": user, "created": created, "token": token,
                 "expires": token_expires_at(token)}
            )
        return learners

    def account_for(self, name, group, handed_out):
        """The classroom account for `name`: an existing one of the class, or a new
        one under the first free username from the name."""
        User = get_user_model()
        base = slugify(name, allow_unicode=True)[:140] or "learner"
        for number in range(1, 10_000):
            username = base if number == 1 else f"{base}-{number}"
            if username in handed_out:
                continue  # a second learner of the same name in this list
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User(username=username, first_name=name[:150])
                user.set_unusable_password()
                user.save()
                user.groups.add(group)
                return user, True
            if user.groups.filter(pk=group.pk).exists():
                return user, False
            # Someone outside the class (the instructor, an admin): never theirs.
        raise CommandError(f"No free username for {name!r}.")

    def write_sheet(self, learners, url):
        for learner in learners:
            self.stdout.write(
                f"{learner['name']}  (username: {learner['user'].username}, "
                f"token valid until {learner['expires']:%Y-%m-%d %H:%M} UTC)\n"
                "Paste into your notebook's \"Join the class\" cell:\n"
                f'    CLASS_URL = "{url}"\n'
                f'    CLASS_TOKEN = "{learner["token"].key}"\n'
                f"{CUT_LINE}"
            )

    def write_csv(self, learners, url):
        writer = csv.writer(self.stdout, lineterminator="\n")
        writer.writerow(["name", "username", "token", "expires", "url"])
        for learner in learners:
            writer.writerow(
                [learner["name"], learner["user"].username, learner["token"].key,
                 learner["expires"].isoformat(), url]
            )
