-- Analytics over the typed tables. Plain views read the base tables with FINAL, so a row inserted
-- twice (which the projector avoids) still counts once; the materialized view counts events per minute.

-- A decision carries the time of the input that caused it, so ties on time are broken by lifecycle order.
CREATE OR REPLACE VIEW {db}.task_latest AS
SELECT task_id,
       argMax(state, (occurred_at_ms, rank, offset)) AS state,
       argMaxIf(queue, (occurred_at_ms, rank, offset), queue != '') AS last_queue,
       any(tenant) AS tenant,
       argMax(reason, (occurred_at_ms, rank, offset)) AS reason,
       min(occurred_at) AS first_seen, max(occurred_at) AS last_seen, count() AS events
FROM (SELECT *, indexOf(['SUBMITTED', 'PENDING', 'CHECKPOINTED', 'ALLOCATED', 'PREEMPTED', 'REJECTED',
                          'CANCELLED', 'FINISHED'], state) AS rank FROM {db}.task_events FINAL)
GROUP BY task_id;

-- The node's last registered spec (a removal keeps the spec it had) and whether it is removed now.
CREATE OR REPLACE VIEW {db}.node_capacity AS
SELECT node_id,
       argMaxIf(cpu_milli, (occurred_at_ms, offset), gone = 0) AS cpu_milli,
       argMaxIf(memory_mib, (occurred_at_ms, offset), gone = 0) AS memory_mib,
       argMaxIf(gpu_count, (occurred_at_ms, offset), gone = 0) AS gpu_count,
       argMaxIf(gpu_model, (occurred_at_ms, offset), gone = 0) AS gpu_model,
       argMaxIf(healthy, (occurred_at_ms, offset), gone = 0) AS healthy,
       argMaxIf(cordoned, (occurred_at_ms, offset), gone = 0) AS cordoned,
       argMax(gone, (occurred_at_ms, offset)) AS removed
FROM (SELECT *, removed AS gone FROM {db}.node_events FINAL) GROUP BY node_id;

-- GPU-milli of capacity gained or lost by each node event (registration, update, removal).
CREATE OR REPLACE VIEW {db}.gpu_capacity_deltas AS
SELECT toStartOfMinute(fromUnixTimestamp64Milli(occurred_at_ms, 'UTC')) AS minute,
       (toInt64(gpu_count) - lagInFrame(toInt64(gpu_count), 1, toInt64(0)) OVER w) * 1000 AS delta
FROM {db}.node_events FINAL
WINDOW w AS (PARTITION BY node_id ORDER BY occurred_at_ms, offset
             ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING);

-- One row per placement with the time its task released it (finished, cancelled, preempted), if it did.
CREATE OR REPLACE VIEW {db}.allocation_intervals AS
SELECT a.task_id AS task_id, a.queue AS queue, a.tenant AS tenant, a.node_id AS node_id,
       n.gpu_model AS gpu_model, a.gpu_milli AS gpu_milli, a.cpu_milli AS cpu_milli,
       a.occurred_at_ms AS start_ms, if(r.task_id = '', NULL, r.occurred_at_ms) AS end_ms, a.wait_ms AS wait_ms
FROM (SELECT * FROM {db}.allocations FINAL) AS a
ASOF LEFT JOIN (SELECT task_id, occurred_at_ms FROM {db}.task_events FINAL
                WHERE state IN ('FINISHED', 'CANCELLED', 'PREEMPTED')) AS r
     ON a.task_id = r.task_id AND r.occurred_at_ms >= a.occurred_at_ms
LEFT JOIN {db}.node_capacity AS n ON n.node_id = a.node_id
SETTINGS join_use_nulls = 0;

-- GPU-milli allocated per minute (starts minus releases) against the capacity registered at that minute.
CREATE OR REPLACE VIEW {db}.gpu_allocation_timeline AS
SELECT minute, sum(sum(alloc)) OVER (ORDER BY minute) AS allocated_gpu_milli,
       sum(sum(cap)) OVER (ORDER BY minute) AS capacity_gpu_milli,
       allocated_gpu_milli / nullIf(capacity_gpu_milli, 0) AS allocation_ratio
FROM (
    SELECT toStartOfMinute(fromUnixTimestamp64Milli(start_ms, 'UTC')) AS minute, gpu_milli AS alloc, 0 AS cap
    FROM {db}.allocation_intervals
    UNION ALL
    SELECT toStartOfMinute(fromUnixTimestamp64Milli(assumeNotNull(end_ms), 'UTC')), -gpu_milli, 0
    FROM {db}.allocation_intervals WHERE end_ms IS NOT NULL
    UNION ALL
    SELECT minute, 0, delta FROM {db}.gpu_capacity_deltas)
GROUP BY minute ORDER BY minute;

CREATE OR REPLACE VIEW {db}.gpu_utilisation_timeline AS
SELECT toStartOfMinute(occurred_at) AS minute, avg(gpu_util_avg) AS avg_gpu_utilization,
       avg(cpu_load) AS avg_cpu_load, uniqExact(node_id) AS reporting_nodes
FROM {db}.node_heartbeats FINAL GROUP BY minute ORDER BY minute;

CREATE OR REPLACE VIEW {db}.queue_waits AS
SELECT queue, count() AS allocations, avg(wait_ms) AS avg_wait_ms,
       quantileExact(0.5)(wait_ms) AS p50_wait_ms, quantileExact(0.99)(wait_ms) AS p99_wait_ms,
       max(wait_ms) AS max_wait_ms
FROM (SELECT task_id, any(queue) AS queue, min(wait_ms) AS wait_ms, min(occurred_at_ms) AS t
      FROM {db}.allocations FINAL GROUP BY task_id, correlation_id)
GROUP BY queue;

CREATE OR REPLACE VIEW {db}.tenant_usage AS
SELECT tenant,
       uniqExact(task_id) AS tasks_allocated,
       sum(gpu_milli) AS gpu_milli_allocated,
       sum(if(end_ms IS NULL, 0, (assumeNotNull(end_ms) - start_ms) * gpu_milli)) / 3600000000.0
           AS gpu_hours_released,
       sum(cpu_milli) AS cpu_milli_allocated
FROM {db}.allocation_intervals GROUP BY tenant;

CREATE OR REPLACE VIEW {db}.tool_call_audit AS
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

CREATE OR REPLACE VIEW {db}.model_costs AS
SELECT tenant, model_id, countIf(event_type = 'RouteDecided') AS routed,
       countIf(event_type = 'ModelCallCompleted') AS calls,
       sumIf(input_tokens, event_type = 'ModelCallCompleted') AS input_tokens,
       sumIf(output_tokens, event_type = 'ModelCallCompleted') AS output_tokens,
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
