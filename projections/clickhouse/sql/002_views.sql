-- Analytics over the typed tables. Plain views read the base tables with FINAL, so a row inserted
-- twice (which the projector avoids) still counts once; the materialized view counts events per minute.

CREATE VIEW IF NOT EXISTS {db}.task_latest AS
SELECT task_id,
       argMax(state, (occurred_at_ms, offset)) AS state,
       argMax(queue, (occurred_at_ms, offset)) AS last_queue,
       any(tenant) AS tenant,
       argMax(reason, (occurred_at_ms, offset)) AS reason,
       min(occurred_at) AS first_seen, max(occurred_at) AS last_seen, count() AS events
FROM {db}.task_events FINAL GROUP BY task_id;

CREATE VIEW IF NOT EXISTS {db}.node_capacity AS
SELECT node_id,
       argMax(cpu_milli, (occurred_at_ms, offset)) AS cpu_milli,
       argMax(memory_mib, (occurred_at_ms, offset)) AS memory_mib,
       argMax(gpu_count, (occurred_at_ms, offset)) AS gpu_count,
       argMax(gpu_model, (occurred_at_ms, offset)) AS gpu_model,
       argMax(healthy, (occurred_at_ms, offset)) AS healthy,
       argMax(cordoned, (occurred_at_ms, offset)) AS cordoned,
       argMax(removed, (occurred_at_ms, offset)) AS removed
FROM {db}.node_events FINAL GROUP BY node_id;

-- One row per placement with the time its task released it (finished, cancelled, preempted), if it did.
CREATE VIEW IF NOT EXISTS {db}.allocation_intervals AS
SELECT a.task_id AS task_id, a.queue AS queue, a.tenant AS tenant, a.node_id AS node_id,
       n.gpu_model AS gpu_model, a.gpu_milli AS gpu_milli, a.cpu_milli AS cpu_milli,
       a.occurred_at_ms AS start_ms, if(r.task_id = '', NULL, r.occurred_at_ms) AS end_ms, a.wait_ms AS wait_ms
FROM (SELECT * FROM {db}.allocations FINAL) AS a
ASOF LEFT JOIN (SELECT task_id, occurred_at_ms FROM {db}.task_events FINAL
                WHERE state IN ('FINISHED', 'CANCELLED', 'PREEMPTED')) AS r
     ON a.task_id = r.task_id AND r.occurred_at_ms >= a.occurred_at_ms
LEFT JOIN {db}.node_capacity AS n ON n.node_id = a.node_id
SETTINGS join_use_nulls = 0;

-- GPU-milli allocated per minute (cumulative starts minus releases) against the registered capacity.
CREATE VIEW IF NOT EXISTS {db}.gpu_allocation_timeline AS
WITH deltas AS (
    SELECT toStartOfMinute(fromUnixTimestamp64Milli(start_ms, 'UTC')) AS minute, gpu_milli AS delta
    FROM {db}.allocation_intervals
    UNION ALL
    SELECT toStartOfMinute(fromUnixTimestamp64Milli(assumeNotNull(end_ms), 'UTC')), -gpu_milli
    FROM {db}.allocation_intervals WHERE end_ms IS NOT NULL)
SELECT minute, sum(sum(delta)) OVER (ORDER BY minute) AS allocated_gpu_milli,
       (SELECT sum(gpu_count) * 1000 FROM {db}.node_capacity WHERE removed = 0) AS capacity_gpu_milli,
       allocated_gpu_milli / nullIf(capacity_gpu_milli, 0) AS allocation_ratio
FROM deltas GROUP BY minute ORDER BY minute;

CREATE VIEW IF NOT EXISTS {db}.gpu_utilisation_timeline AS
SELECT toStartOfMinute(occurred_at) AS minute, avg(gpu_util_avg) AS avg_gpu_utilization,
       avg(cpu_load) AS avg_cpu_load, uniqExact(node_id) AS reporting_nodes
FROM {db}.node_heartbeats FINAL GROUP BY minute ORDER BY minute;

CREATE VIEW IF NOT EXISTS {db}.queue_waits AS
SELECT queue, count() AS allocations, avg(wait_ms) AS avg_wait_ms,
       quantileExact(0.5)(wait_ms) AS p50_wait_ms, quantileExact(0.99)(wait_ms) AS p99_wait_ms,
       max(wait_ms) AS max_wait_ms
FROM (SELECT task_id, any(queue) AS queue, min(wait_ms) AS wait_ms, min(occurred_at_ms) AS t
      FROM {db}.allocations FINAL GROUP BY task_id, correlation_id)
GROUP BY queue;

CREATE VIEW IF NOT EXISTS {db}.tenant_usage AS
SELECT tenant,
       uniqExact(task_id) AS tasks_allocated,
       sum(gpu_milli) AS gpu_milli_allocated,
       sum(if(end_ms IS NULL, 0, (assumeNotNull(end_ms) - start_ms) * gpu_milli)) / 3600000000.0
           AS gpu_hours_released,
       sum(cpu_milli) AS cpu_milli_allocated
FROM {db}.allocation_intervals GROUP BY tenant;

CREATE VIEW IF NOT EXISTS {db}.tool_call_audit AS
SELECT tool_call_id,
       anyIf(tool_name, event_type = 'ToolCallRequested') AS tool_name,
       anyIf(agent_id, event_type = 'ToolCallRequested') AS agent_id,
       any(tenant) AS tenant,
       anyIf(decision, event_type = 'ToolCallDecided') AS decision,
       anyIf(reason, event_type = 'ToolCallDecided') AS decision_reason,
       anyIf(status, event_type = 'ToolCallCompleted') AS status,
       anyIf(duration_ms, event_type = 'ToolCallCompleted') AS duration_ms,
       min(occurred_at) AS requested_at
FROM {db}.tool_calls FINAL GROUP BY tool_call_id;

CREATE VIEW IF NOT EXISTS {db}.model_costs AS
SELECT tenant, model_id, countIf(event_type = 'RouteDecided') AS routed,
       countIf(event_type = 'ModelCallCompleted') AS calls,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(cost_usd_micros) / 1e6 AS cost_usd,
       avgIf(latency_ms, event_type = 'ModelCallCompleted') AS avg_latency_ms
FROM {db}.model_events FINAL GROUP BY tenant, model_id;

CREATE TABLE IF NOT EXISTS {db}.events_per_minute (
    minute DateTime('UTC'), topic LowCardinality(String), event_type LowCardinality(String), events UInt64
) ENGINE = SummingMergeTree ORDER BY (minute, topic, event_type);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.events_per_minute_mv TO {db}.events_per_minute AS
SELECT toStartOfMinute(fromUnixTimestamp64Milli(occurred_at_ms, 'UTC')) AS minute, topic, event_type,
       count() AS events
FROM {db}.events GROUP BY minute, topic, event_type;
