-- Raw log and typed read models. `{db}` is the database (live: agentic, shadow: agentic_shadow, ...).
-- Every row carries its source position (topic, partition, offset, idx = row number within the event);
-- ReplacingMergeTree keyed by that position collapses any row inserted twice, and the projector
-- never inserts a position twice in the first place (see docs/projections.md, "Idempotence").

CREATE TABLE IF NOT EXISTS {db}.events (
    topic LowCardinality(String), partition UInt32, offset UInt64,
    event_id String, event_type LowCardinality(String), occurred_at_ms Int64,
    tenant LowCardinality(String), source LowCardinality(String),
    correlation_id String, causation_id Nullable(String),
    key String, payload String,
    occurred_at DateTime64(3, 'UTC') DEFAULT fromUnixTimestamp64Milli(occurred_at_ms, 'UTC'),
    ingest_time DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree ORDER BY (topic, partition, offset);

CREATE TABLE IF NOT EXISTS {db}.task_events (
    topic LowCardinality(String), partition UInt32, offset UInt64, idx UInt32,
    event_id String, event_type LowCardinality(String), occurred_at_ms Int64,
    tenant LowCardinality(String), correlation_id String, causation_id Nullable(String),
    task_id String, state LowCardinality(String), queue LowCardinality(String),
    reason String, detail String, priority Int32, preemptible UInt8,
    pods UInt32, gpu_milli Int64, cpu_milli Int64, memory_mib Int64,
    node_ids Array(String), wait_ms Nullable(Int64), score Nullable(Float64),
    occurred_at DateTime64(3, 'UTC') DEFAULT fromUnixTimestamp64Milli(occurred_at_ms, 'UTC')
) ENGINE = ReplacingMergeTree ORDER BY (topic, partition, offset, idx);

CREATE TABLE IF NOT EXISTS {db}.allocations (
    topic LowCardinality(String), partition UInt32, offset UInt64, idx UInt32,
    event_id String, event_type LowCardinality(String), occurred_at_ms Int64,
    tenant LowCardinality(String), correlation_id String, causation_id Nullable(String),
    task_id String, queue LowCardinality(String), member String, replica UInt32, node_id String,
    gpu_indexes Array(UInt16), gpu_count UInt16, gpu_milli Int64, cpu_milli Int64, memory_mib Int64,
    score Float64, score_breakdown Map(String, Float64), policy LowCardinality(String),
    policy_version LowCardinality(String), wait_ms Int64,
    occurred_at DateTime64(3, 'UTC') DEFAULT fromUnixTimestamp64Milli(occurred_at_ms, 'UTC')
) ENGINE = ReplacingMergeTree ORDER BY (topic, partition, offset, idx);

CREATE TABLE IF NOT EXISTS {db}.node_events (
    topic LowCardinality(String), partition UInt32, offset UInt64, idx UInt32,
    event_id String, event_type LowCardinality(String), occurred_at_ms Int64,
    tenant LowCardinality(String), correlation_id String, causation_id Nullable(String),
    node_id String, cpu_milli Int64, memory_mib Int64, gpu_count UInt16,
    gpu_model LowCardinality(String), gpu_models Array(String), gpu_memory_mib Int64,
    rack String, zone String, healthy UInt8, cordoned UInt8, removed UInt8, reason String,
    occurred_at DateTime64(3, 'UTC') DEFAULT fromUnixTimestamp64Milli(occurred_at_ms, 'UTC')
) ENGINE = ReplacingMergeTree ORDER BY (topic, partition, offset, idx);

CREATE TABLE IF NOT EXISTS {db}.node_heartbeats (
    topic LowCardinality(String), partition UInt32, offset UInt64, idx UInt32,
    event_id String, event_type LowCardinality(String), occurred_at_ms Int64,
    tenant LowCardinality(String), correlation_id String, causation_id Nullable(String),
    node_id String, cpu_load Float64, memory_used_mib Int64,
    gpu_utilization Array(Float64), gpu_util_avg Float64,
    occurred_at DateTime64(3, 'UTC') DEFAULT fromUnixTimestamp64Milli(occurred_at_ms, 'UTC')
) ENGINE = ReplacingMergeTree ORDER BY (topic, partition, offset, idx);

CREATE TABLE IF NOT EXISTS {db}.queue_configs (
    topic LowCardinality(String), partition UInt32, offset UInt64, idx UInt32,
    event_id String, event_type LowCardinality(String), occurred_at_ms Int64,
    tenant LowCardinality(String), correlation_id String, causation_id Nullable(String),
    queue String, weight Float64, priority Int32, quotas String,
    occurred_at DateTime64(3, 'UTC') DEFAULT fromUnixTimestamp64Milli(occurred_at_ms, 'UTC')
) ENGINE = ReplacingMergeTree ORDER BY (topic, partition, offset, idx);

CREATE TABLE IF NOT EXISTS {db}.tool_calls (
    topic LowCardinality(String), partition UInt32, offset UInt64, idx UInt32,
    event_id String, event_type LowCardinality(String), occurred_at_ms Int64,
    tenant LowCardinality(String), correlation_id String, causation_id Nullable(String),
    tool_call_id String, agent_id String, runtime_id String, task_id String, tool_name String,
    decision LowCardinality(String), reason String, policy_id String, status LowCardinality(String),
    exit_code Nullable(Int32), duration_ms Nullable(Int64), evaluation_ms Nullable(Float64), error String,
    occurred_at DateTime64(3, 'UTC') DEFAULT fromUnixTimestamp64Milli(occurred_at_ms, 'UTC')
) ENGINE = ReplacingMergeTree ORDER BY (topic, partition, offset, idx);

CREATE TABLE IF NOT EXISTS {db}.memory_ops (
    topic LowCardinality(String), partition UInt32, offset UInt64, idx UInt32,
    event_id String, event_type LowCardinality(String), occurred_at_ms Int64,
    tenant LowCardinality(String), correlation_id String, causation_id Nullable(String),
    memory_id String, agent_id String, session_id String, memory_type LowCardinality(String),
    importance Nullable(Float64), detail String, related_ids Array(String),
    occurred_at DateTime64(3, 'UTC') DEFAULT fromUnixTimestamp64Milli(occurred_at_ms, 'UTC')
) ENGINE = ReplacingMergeTree ORDER BY (topic, partition, offset, idx);

CREATE TABLE IF NOT EXISTS {db}.model_events (
    topic LowCardinality(String), partition UInt32, offset UInt64, idx UInt32,
    event_id String, event_type LowCardinality(String), occurred_at_ms Int64,
    tenant LowCardinality(String), correlation_id String, causation_id Nullable(String),
    request_id String, model_id String, agent_id String, task_id String,
    status LowCardinality(String), policy String, reason String, candidates UInt16,
    input_tokens Int64, output_tokens Int64, cost_usd_micros Int64, latency_ms Int64,
    occurred_at DateTime64(3, 'UTC') DEFAULT fromUnixTimestamp64Milli(occurred_at_ms, 'UTC')
) ENGINE = ReplacingMergeTree ORDER BY (topic, partition, offset, idx);

CREATE TABLE IF NOT EXISTS {db}.workflow_events (
    topic LowCardinality(String), partition UInt32, offset UInt64, idx UInt32,
    event_id String, event_type LowCardinality(String), occurred_at_ms Int64,
    tenant LowCardinality(String), correlation_id String, causation_id Nullable(String),
    workflow_id String, step_id String, attempt Int32, status LowCardinality(String),
    duration_ms Int64, error String,
    occurred_at DateTime64(3, 'UTC') DEFAULT fromUnixTimestamp64Milli(occurred_at_ms, 'UTC')
) ENGINE = ReplacingMergeTree ORDER BY (topic, partition, offset, idx);
