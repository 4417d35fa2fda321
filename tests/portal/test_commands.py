"""Every management command of the project loads (a command's imports run only when it is called, so a
moved module would otherwise break it silently until someone needs it)."""

import pytest
from django.core.management import get_commands, load_command_class

OURS = ("core", "accounts", "registry", "verification", "support", "api", "backups", "perf", "demo", "portal")


@pytest.mark.parametrize("name", sorted(name for name, app in get_commands().items() if app in OURS))
def test_the_command_loads(name):
    command = load_command_class(get_commands()[name], name)
    assert command.help, f"{name} has no help text"
