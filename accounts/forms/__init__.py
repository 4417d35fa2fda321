"""The account forms: login steps, passwords, registration, certificate login."""
