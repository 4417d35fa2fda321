"""Shared by the benchmark commands: every printed figure says which machine produced it."""

import os
import platform
from pathlib import Path


def machine_description(server_version: str) -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"Machine: {os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, PostgreSQL {server_version}"
        f"{_server_settings()}"
    )


# The server settings that move the figures most (docs/deployment.md, "Database settings").
SERVER_SETTINGS = ("shared_buffers", "effective_cache_size", "random_page_cost", "work_mem")


def _server_settings() -> str:
    from django.db import connection

    if connection.vendor != "postgresql":
        return ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)", [list(SERVER_SETTINGS)])
        found = {name: _size(setting, unit) for name, setting, unit in cursor.fetchall()}
    return " (" + ", ".join(f"{name} {found[name]}" for name in SERVER_SETTINGS if name in found) + ")"


def _size(setting: str, unit: str | None) -> str:
    """pg_settings gives sizes in units of 8kB or kB: print them as people write them."""
    factor = {"8kB": 8192, "kB": 1024}.get(unit or "")
    if not factor:
        return setting
    size = int(setting) * factor
    for suffix, scale in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{suffix}"
    return f"{size}B"
