"""Print a new Ed25519 key item for EXTRACT_SIGNING_KEYS (and its public key, to publish)."""

from django.core.management.base import BaseCommand

from api.extracts import signing


class Command(BaseCommand):
    help = "Generate a signing key for official extracts: put it FIRST in EXTRACT_SIGNING_KEYS to rotate."

    def add_arguments(self, parser):
        parser.add_argument("--id", dest="key_id", help="key id (default: random)")

    def handle(self, *args, key_id=None, **options):
        item = signing.new_key_item(key_id)
        key = signing.parse_keys([item])[0]
        self.stdout.write(item)
        self.stderr.write(f"public key of {key.key_id} (Ed25519, base64url): {key.public_b64()}")
