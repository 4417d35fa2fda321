"""The account pages: login, recovery, registration, certificate login, security and journal."""
