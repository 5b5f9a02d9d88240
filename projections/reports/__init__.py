"""Named reports: one SQL file each, run by `agentic report NAME` against the live projection."""
