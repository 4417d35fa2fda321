"""Admin of the data-quality models, one module a topic; importing the package registers them."""

from . import dashboards, discrepancies, duplicates

__all__ = ["dashboards", "discrepancies", "duplicates"]
