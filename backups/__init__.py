"""Consistent, encrypted backups of the database and the stored documents, and their restore
(`manage.py backup`, `verify_backup`, `restore`)."""
