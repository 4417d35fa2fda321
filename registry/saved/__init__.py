"""Saved searches and watched workers of signed-in users, with the daily digest (services) and pages (views)."""
