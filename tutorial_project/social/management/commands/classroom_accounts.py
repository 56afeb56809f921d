"""`manage.py classroom_accounts`: an account and a sign-in token for each learner of a
workshop, and a sheet to cut into slips and hand out.

Why a command: a room of thirty cannot sign up one by one on a projector's address,
and a learner's notebook has no browser session to sign in with. So the instructor
makes the accounts before the day, from a list of names, and each learner gets a
slip with the two lines their notebook's "Join the class" cell needs.

Why tokens and no passwords: the accounts are for one workshop. A learner has no
password to choose, forget or reuse; the token (DRF's rest_framework.authtoken, one
per user) is their only way in, it stops working SOCIAL_TOKEN_MAX_AGE_DAYS after it
was issued, and `--revoke` ends every learner's at once when the workshop does.

Safe to run again, with the same list or a longer one: learners of the class keep
their accounts and unexpired tokens (an expired token is replaced), so a lost sheet
can be reprinted. Every account the command makes is in the group "classroom", and
it only ever touches accounts of that group: when a learner's name gives the
username of someone else's account (the instructor's, an admin's) the learner gets
`<username>-2` instead, and `--revoke` leaves everyone else's tokens alone.
"""

import csv
import io
import sys
from datetime import UTC

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify
from rest_framework.authtoken.models import Token

from social.auth import token_expires_at, usable_token_for

CLASSROOM_GROUP = "classroom"
# Room for a "-<number>" suffix within the 150 characters of User.username.
USERNAME_BASE_LENGTH = 140
URL_PLACEHOLDER = "the address your instructor shows"
CUT_LINE = "-" * 48 + " ✂"
CSV_HEADER = ["name", "username", "token", "expires", "url"]


class Command(BaseCommand):
    help = (
        "Create an account and a sign-in token for each learner named in NAMES_FILE (one "
        "name per line; '-' reads standard input) and print a sheet of slips to hand out. "
        "Run again to reprint it: learners keep their accounts and unexpired tokens. With "
        "--revoke instead, delete the tokens of every learner of the class."
    )
    # call_command("classroom_accounts", "-", stdin=...) reads the names from that file
    # object, as createsuperuser reads its answers.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument(
            "names_file",
            nargs="?",
            metavar="NAMES_FILE",
            help="a text file with one learner's name per line (blank lines and lines "
            "starting with # are ignored), or - for standard input",
        )
        parser.add_argument(
            "--url",
            default="",
            help="the class server's address, printed on every slip",
        )
        parser.add_argument(
            "--format",
            choices=["sheet", "csv"],
            default="sheet",
            help="sheet: slips to print and cut (the default); csv: one row per learner, "
            "for a mail merge or a script",
        )
        parser.add_argument(
            "--revoke",
            action="store_true",
            help="delete the tokens of every account in the classroom group, to end a "
            "workshop (give no NAMES_FILE)",
        )

    def handle(self, *args, **options):
        names_file = options["names_file"]
        if options["revoke"] and names_file is not None:
            raise CommandError("Give either NAMES_FILE or --revoke, not both.")
        if not options["revoke"] and names_file is None:
            raise CommandError(
                "Give a NAMES_FILE with one learner's name per line ('-' to read them "
                "from standard input), or --revoke to end the workshop."
            )
        self.stdin = options.get("stdin") or sys.stdin
        with transaction.atomic():
            if options["revoke"]:
                self.revoke()
            else:
                self.hand_out(self.read_names(names_file), options["url"], options["format"])

    def revoke(self):
        _, deleted = Token.objects.filter(user__groups__name=CLASSROOM_GROUP).delete()
        revoked = deleted.get(Token._meta.label, 0)
        self.stdout.write(
            f"Revoked {revoked} token{'s' if revoked != 1 else ''} of the {CLASSROOM_GROUP} group."
        )

    def read_names(self, names_file) -> list[str]:
        if names_file == "-":
            text = self.stdin.read()
            source = "standard input"
        else:
            source = names_file
            try:
                # utf-8-sig: a BOM, as some Windows editors write, is not part of a name.
                with open(names_file, encoding="utf-8-sig") as file:
                    text = file.read()
            except OSError as error:
                raise CommandError(
                    f"Cannot read {names_file}: {error.strerror or error}."
                ) from error
            except UnicodeDecodeError as error:
                raise CommandError(f"{names_file} is not UTF-8 text: {error}.") from error
        lines = (line.strip() for line in text.splitlines())
        names = [line for line in lines if line and not line.startswith("#")]
        if not names:
            raise CommandError(f"No names in {source}: write one learner's name per line.")
        return names

    def hand_out(self, names, url, output_format):
        group, _ = Group.objects.get_or_create(name=CLASSROOM_GROUP)
        handed_out = set()  # usernames given to a line of this list already
        learners = []
        created = issued = 0
        for name in names:
            user, is_new = self.account_for(name, group, handed_out)
            handed_out.add(user.username)
            token, is_fresh = usable_token_for(user)
            created += is_new
            issued += is_fresh
            learners.append(
                (name, user.username, token.key, token_expires_at(token).astimezone(UTC))
            )
        if output_format == "csv":
            self.write_csv(learners, url)
        else:
            self.write_sheet(learners, url or URL_PLACEHOLDER)
        # To stderr, so that it stays out of a sheet redirected to a file or a printer.
        self.stderr.write(
            f"{len(learners)} accounts: {created} created, {len(learners) - created} reused; "
            f"{issued} tokens issued."
        )

    def account_for(self, name, group, handed_out):
        """(user, created): the class's account for `name`, or a new one under the first
        username from the name that no one else has."""
        User = get_user_model()
        base = slugify(name, allow_unicode=True)[:USERNAME_BASE_LENGTH] or "learner"
        number = 1
        while True:
            username = base if number == 1 else f"{base}-{number}"
            number += 1
            if username in handed_out:
                continue  # another learner of the same name, earlier in this list
            # iexact: "Ada-Lovelace", an account of someone else, takes "ada-lovelace" too,
            # so that nobody signs in as a near-namesake (and on databases that compare
            # usernames without case, creating it would fail).
            taken = list(User.objects.filter(username__iexact=username))
            if not taken:
                user = User(username=username, first_name=name[:150])
                user.set_unusable_password()
                user.save()
                user.groups.add(group)
                return user, True
            for user in taken:
                if user.username == username and user.groups.filter(pk=group.pk).exists():
                    return user, False
            # Someone outside the class: never theirs to reuse, nor to change.

    def write_sheet(self, learners, url):
        for name, username, key, expires in learners:
            self.stdout.write(
                f"{name}  (username: {username}, token valid until {expires:%Y-%m-%d %H:%M} UTC)\n"
                'Paste into your notebook\'s "Join the class" cell:\n'
                f'    CLASS_URL = "{url}"\n'
                f'    CLASS_TOKEN = "{key}"\n'
                f"{CUT_LINE}"
            )

    def write_csv(self, learners, url):
        rows = io.StringIO()
        writer = csv.writer(rows, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for name, username, key, expires in learners:
            writer.writerow([name, username, key, expires.isoformat(), url])
        self.stdout.write(rows.getvalue(), ending="")
