"""The demo installation (`manage.py seed_demo`): it may import every app; nothing imports it."""
