"""`manage.py identity_token purge|revoke`: token bookkeeping.

``purge`` deletes records of expired and revoked tokens (run it from cron or beat);
``revoke USER`` revokes every token a user holds.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.identity import services
from apps.identity.tokens import purge_tokens
from computecloud.exceptions import ComputecloudError


class Command(BaseCommand):
    help = "Purge expired and revoked tokens, or revoke all tokens of a user."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("purge", help="delete expired and revoked token records")
        revoke = actions.add_parser("revoke", help="revoke every token of a user")
        revoke.add_argument("user", help="user name or id")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "purge":
                self.stdout.write(f"purged {purge_tokens()} tokens")
            else:
                user = services.get_user(options["user"])
                count = services.revoke_user_tokens(user=user)
                self.stdout.write(f"revoked {count} tokens of {user.username}")
        except ComputecloudError as exc:
            raise CommandError(exc.message) from None
