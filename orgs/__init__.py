"""The organization (employer) cabinet: an organization's HR officers keep its staff records current."""
