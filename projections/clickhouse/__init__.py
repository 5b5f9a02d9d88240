"""The ClickHouse projection: DDL, pure row mapping, the idempotent batching sink, the projector shell."""
