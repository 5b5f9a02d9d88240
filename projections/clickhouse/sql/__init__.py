"""SQL files of the ClickHouse projection (package data, read with importlib.resources)."""
