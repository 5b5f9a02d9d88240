-- The typed read models, derived inside the engine from the raw rows (the same mapping as the pure Python
-- reference `projections/clickhouse/rows.py`; an integration test holds them equal for every event type).
-- The sink inserts a batch's raw rows into `events_in` (Null engine: nothing is stored, its materialized
-- views write the typed tables), then the same rows into `events`, the commit record. See sink.py.

CREATE TABLE IF NOT EXISTS {db}.events_in (
    topic LowCardinality(String), partition UInt32, offset UInt64,
    event_id String, event_type LowCardinality(String), occurred_at_ms Int64,
    tenant LowCardinality(String), source LowCardinality(String),
    correlation_id String, causation_id Nullable(String),
    key String, payload String
) ENGINE = Null;

-- One parse per row: the fields every task event type needs, as one named tuple (absent keys: defaults).
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.task_events_mv TO {db}.task_events AS
WITH JSONExtract(payload, 'Tuple(task_id String, queue String, reason String, workload_type String,
         topology String, gpu_models Array(String), policy String, policy_version String, detail String,
         nearest_node String, shortfall Map(String, Int64), preemptor_task_id String, field String,
         message String, outcome String, exit_code Nullable(Int64), checkpoint_id String, sequence Int64,
         priority Int64, preemptible Bool, node_ids Array(String), wait_ms Int64, score Float64,
         members Array(Tuple(cpu_milli Int64, gpu_count Int64, gpu_milli Int64, memory_mib Int64, replicas Int64)),
         placements Array(Tuple(cpu_milli Int64, memory_mib Int64, node_id String, gpus Array(Tuple(milli Int64)))))') AS e,
     e.members AS ms, e.placements AS ps, e.nearest_node AS near
SELECT topic, partition, offset, toUInt32(0) AS idx, event_id, event_type, occurred_at_ms, tenant,
       correlation_id, causation_id, e.task_id AS task_id,
       multiIf(event_type = 'TaskSubmitted', 'SUBMITTED', event_type = 'TaskAllocated', 'ALLOCATED',
               event_type = 'TaskPending', 'PENDING', event_type = 'TaskPreempted', 'PREEMPTED',
               event_type = 'TaskRejected', 'REJECTED', event_type = 'TaskCancelled', 'CANCELLED',
               event_type = 'TaskFinished', 'FINISHED', 'CHECKPOINTED') AS state,
       if(event_type IN ('TaskSubmitted', 'TaskAllocated', 'TaskPending'), e.queue, '') AS queue,
       multiIf(event_type IN ('TaskPending', 'TaskPreempted', 'TaskRejected', 'TaskCancelled'), e.reason,
               event_type = 'TaskFinished', e.outcome,
               event_type = 'TaskCheckpointCreated', e.checkpoint_id, '') AS reason,
       multiIf(event_type = 'TaskSubmitted',
                   concat(e.workload_type, ' topology=', e.topology, ' gpu_models=',
                          arrayStringConcat(e.gpu_models, ',')),
               event_type = 'TaskAllocated', concat('policy=', e.policy, '@', e.policy_version),
               event_type = 'TaskPending',
                   concat(e.detail, ' nearest=', if(near = '', '-', near), ' shortfall=',
                          arrayStringConcat(arrayMap(kv -> concat(kv.1, '=', toString(kv.2)),
                                                     arraySort(arrayZip(mapKeys(e.shortfall), mapValues(e.shortfall)))), ',')),
               event_type = 'TaskPreempted', concat('preemptor=', e.preemptor_task_id),
               event_type = 'TaskRejected', concat('field=', if(e.field = '', '-', e.field), ' ', e.message),
               event_type = 'TaskFinished',
                   if(e.exit_code IS NULL, '', concat('exit_code=', toString(assumeNotNull(e.exit_code)))),
               event_type = 'TaskCheckpointCreated', concat('sequence=', toString(e.sequence)), '') AS detail,
       if(event_type = 'TaskSubmitted', e.priority, 0) AS priority,
       if(event_type = 'TaskSubmitted', toUInt8(e.preemptible), 0) AS preemptible,
       multiIf(event_type = 'TaskSubmitted', arraySum(m -> m.5, ms),
               event_type = 'TaskAllocated', length(ps), 0) AS pods,
       multiIf(event_type = 'TaskSubmitted', arraySum(m -> m.2 * m.3 * m.5, ms),
               event_type = 'TaskAllocated', arraySum(p -> arraySum(g -> g.1, p.4), ps), 0) AS gpu_milli,
       multiIf(event_type = 'TaskSubmitted', arraySum(m -> m.1 * m.5, ms),
               event_type = 'TaskAllocated', arraySum(p -> p.1, ps), 0) AS cpu_milli,
       multiIf(event_type = 'TaskSubmitted', arraySum(m -> m.4 * m.5, ms),
               event_type = 'TaskAllocated', arraySum(p -> p.2, ps), 0) AS memory_mib,
       multiIf(event_type = 'TaskAllocated', arrayDistinct(arrayMap(p -> p.3, ps)),
               event_type = 'TaskPending', if(near = '', [], [near]),
               event_type = 'TaskPreempted', e.node_ids, []) AS node_ids,
       if(event_type = 'TaskAllocated', e.wait_ms, NULL) AS wait_ms,
       if(event_type = 'TaskAllocated', e.score, NULL) AS score
FROM {db}.events_in
WHERE event_type IN ('TaskSubmitted', 'TaskAllocated', 'TaskPending', 'TaskPreempted', 'TaskRejected',
                     'TaskCancelled', 'TaskFinished', 'TaskCheckpointCreated');

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.allocations_mv TO {db}.allocations AS
WITH JSONExtract(payload, 'Tuple(task_id String, queue String, score Float64,
         score_breakdown Map(String, Float64), policy String, policy_version String, wait_ms Int64,
         placements Array(Tuple(member String, replica Int64, node_id String,
                                gpus Array(Tuple(index Int64, milli Int64)), cpu_milli Int64, memory_mib Int64)))') AS e
SELECT topic, partition, offset, toUInt32(i - 1) AS idx, event_id, event_type, occurred_at_ms, tenant,
       correlation_id, causation_id, e.task_id AS task_id, e.queue AS queue,
       p.member AS member, toUInt32(p.replica) AS replica, p.node_id AS node_id,
       arrayMap(g -> toUInt16(g.1), p.gpus) AS gpu_indexes, toUInt16(length(p.gpus)) AS gpu_count,
       arraySum(g -> g.2, p.gpus) AS gpu_milli, p.cpu_milli AS cpu_milli, p.memory_mib AS memory_mib,
       e.score AS score, e.score_breakdown AS score_breakdown, e.policy AS policy,
       e.policy_version AS policy_version, e.wait_ms AS wait_ms
FROM {db}.events_in
ARRAY JOIN e.placements AS p, arrayEnumerate(e.placements) AS i
WHERE event_type = 'TaskAllocated';

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.node_events_mv TO {db}.node_events AS
WITH JSONExtract(payload, 'gpus', 'Array(Tuple(model String, memory_mib Int64))') AS gs,
     arrayMap(g -> g.1, gs) AS models, event_type = 'NodeRemoved' AS gone
SELECT topic, partition, offset, toUInt32(0) AS idx, event_id, event_type, occurred_at_ms, tenant,
       correlation_id, causation_id,
       JSONExtractString(payload, 'node_id') AS node_id,
       if(gone, 0, JSONExtractInt(payload, 'cpu_milli')) AS cpu_milli,
       if(gone, 0, JSONExtractInt(payload, 'memory_mib')) AS memory_mib,
       toUInt16(length(gs)) AS gpu_count,
       if(empty(models), '', arraySort(m -> (-countEqual(models, m), m), arrayDistinct(models))[1]) AS gpu_model,
       models AS gpu_models, arraySum(g -> g.2, gs) AS gpu_memory_mib,
       JSONExtractString(payload, 'rack') AS rack, JSONExtractString(payload, 'zone') AS zone,
       if(gone, 0, toUInt8(JSONExtractBool(payload, 'healthy'))) AS healthy,
       if(gone, 1, toUInt8(JSONExtractBool(payload, 'cordoned'))) AS cordoned,
       toUInt8(gone) AS removed, if(gone, JSONExtractString(payload, 'reason'), '') AS reason
FROM {db}.events_in
WHERE event_type IN ('NodeRegistered', 'NodeUpdated', 'NodeRemoved');

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.node_heartbeats_mv TO {db}.node_heartbeats AS
WITH JSONExtract(payload, 'gpu_utilization', 'Array(Float64)') AS util
SELECT topic, partition, offset, toUInt32(0) AS idx, event_id, event_type, occurred_at_ms, tenant,
       correlation_id, causation_id,
       JSONExtractString(payload, 'node_id') AS node_id, JSONExtractFloat(payload, 'cpu_load') AS cpu_load,
       JSONExtractInt(payload, 'memory_used_mib') AS memory_used_mib, util AS gpu_utilization,
       if(empty(util), 0., arrayFold((acc, u) -> acc + u, util, 0.) / length(util)) AS gpu_util_avg
FROM {db}.events_in
WHERE event_type = 'NodeHeartbeat';

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.queue_configs_mv TO {db}.queue_configs AS
SELECT topic, partition, offset, toUInt32(0) AS idx, event_id, event_type, occurred_at_ms, tenant,
       correlation_id, causation_id,
       JSONExtractString(payload, 'queue') AS queue, JSONExtractFloat(payload, 'weight') AS weight,
       JSONExtractInt(payload, 'priority') AS priority, JSONExtractRaw(payload, 'quotas') AS quotas
FROM {db}.events_in
WHERE event_type = 'QueueConfigured';

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.tool_calls_mv TO {db}.tool_calls AS
WITH event_type = 'ToolCallRequested' AS req, event_type = 'ToolCallDecided' AS dec,
     event_type = 'ToolCallCompleted' AS done
SELECT topic, partition, offset, toUInt32(0) AS idx, event_id, event_type, occurred_at_ms, tenant,
       correlation_id, causation_id,
       JSONExtractString(payload, 'tool_call_id') AS tool_call_id,
       if(req, JSONExtractString(payload, 'agent_id'), '') AS agent_id,
       if(req OR done, JSONExtractString(payload, 'runtime_id'), '') AS runtime_id,
       if(req, JSONExtractString(payload, 'task_id'), '') AS task_id,
       if(req, JSONExtractString(payload, 'tool_name'), '') AS tool_name,
       if(dec, JSONExtractString(payload, 'decision'), '') AS decision,
       if(dec, JSONExtractString(payload, 'reason'), '') AS reason,
       if(dec, concat(JSONExtractString(payload, 'policy_id'), '@', JSONExtractString(payload, 'policy_version')),
          '') AS policy_id,
       if(done, JSONExtractString(payload, 'status'), '') AS status,
       if(done, JSONExtract(payload, 'exit_code', 'Nullable(Int32)'), NULL) AS exit_code,
       if(done, JSONExtractInt(payload, 'duration_ms'), NULL) AS duration_ms,
       if(dec, JSONExtractFloat(payload, 'evaluation_ms'), NULL) AS evaluation_ms,
       if(done, JSONExtractString(payload, 'error'), '') AS error
FROM {db}.events_in
WHERE event_type IN ('ToolCallRequested', 'ToolCallDecided', 'ToolCallCompleted');

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.memory_ops_mv TO {db}.memory_ops AS
WITH JSONExtract(payload, 'similarity', 'Nullable(Float64)') AS sim, JSONExtract(payload, 'rank', 'Nullable(Int64)') AS rk
SELECT topic, partition, offset, toUInt32(0) AS idx, event_id, event_type, occurred_at_ms, tenant,
       correlation_id, causation_id,
       JSONExtractString(payload, if(event_type = 'MemoryConsolidated', 'result_memory_id', 'memory_id')) AS memory_id,
       if(event_type IN ('MemoryWritten', 'MemoryAccessed'), JSONExtractString(payload, 'agent_id'), '') AS agent_id,
       JSONExtractString(payload, 'session_id') AS session_id,
       if(event_type = 'MemoryWritten', JSONExtractString(payload, 'memory_type'), '') AS memory_type,
       multiIf(event_type IN ('MemoryWritten', 'MemoryConsolidated'), JSONExtract(payload, 'importance', 'Nullable(Float64)'),
               event_type = 'MemoryAccessed', JSONExtract(payload, 'score', 'Nullable(Float64)'), NULL) AS importance,
       multiIf(event_type = 'MemoryWritten', concat('chars=', toString(lengthUTF8(JSONExtractString(payload, 'content')))),
               event_type = 'MemoryAccessed', concat('rank=', if(rk IS NULL, 'None', toString(rk)), ' query=',
                                                     JSONExtractString(payload, 'query')),
               event_type = 'MemoryDeleted', concat('scope=', JSONExtractString(payload, 'scope'), ' by=',
                                                    JSONExtractString(payload, 'requested_by'), ' ',
                                                    JSONExtractString(payload, 'reason')),
               event_type = 'MemoryConsolidated', concat('method=', JSONExtractString(payload, 'method'),
                                                         ' similarity=', if(sim IS NULL, 'None', toString(sim))),
               concat('reason=', JSONExtractString(payload, 'reason'))) AS detail,
       multiIf(event_type = 'MemoryWritten', JSONExtract(payload, 'source_refs', 'Array(String)'),
               event_type = 'MemoryConsolidated', JSONExtract(payload, 'source_ids', 'Array(String)'),
               []) AS related_ids
FROM {db}.events_in
WHERE event_type IN ('MemoryWritten', 'MemoryAccessed', 'MemoryDeleted', 'MemoryConsolidated', 'MemoryExpired');

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.model_events_mv TO {db}.model_events AS
WITH event_type = 'ModelRegistered' AS reg, event_type = 'RouteDecided' AS route,
     event_type = 'ModelCallCompleted' AS call, JSONExtractString(payload, 'model_id') AS model,
     JSONExtract(payload, 'candidates', 'Array(Tuple(model_id String, estimated_latency_ms Int64))') AS cands,
     arrayFilter(c -> c.1 = model, cands) AS chosen
SELECT topic, partition, offset, toUInt32(0) AS idx, event_id, event_type, occurred_at_ms, tenant,
       correlation_id, causation_id,
       if(reg, '', JSONExtractString(payload, 'request_id')) AS request_id, model AS model_id,
       if(reg, '', JSONExtractString(payload, 'agent_id')) AS agent_id,
       if(reg, '', JSONExtractString(payload, 'task_id')) AS task_id,
       if(call, JSONExtractString(payload, 'status'), '') AS status,
       multiIf(reg, JSONExtractString(payload, 'provider'),
               route, concat(JSONExtractString(payload, 'policy'), '@', JSONExtractString(payload, 'policy_version')),
               '') AS policy,
       multiIf(reg, JSONExtractString(payload, 'model_name'), route, JSONExtractString(payload, 'reason'),
               JSONExtractString(payload, 'error')) AS reason,
       if(route, length(cands), 0) AS candidates,
       multiIf(route, JSONExtractInt(payload, 'estimated_input_tokens'), call,
               JSONExtractInt(payload, 'input_tokens'), 0) AS input_tokens,
       if(call, JSONExtractInt(payload, 'output_tokens'), 0) AS output_tokens,
       if(call, JSONExtractInt(payload, 'cost_usd_micros'), 0) AS cost_usd_micros,
       multiIf(route, if(empty(chosen), 0, chosen[1].2), call, JSONExtractInt(payload, 'latency_ms'), 0) AS latency_ms
FROM {db}.events_in
WHERE event_type IN ('ModelRegistered', 'RouteDecided', 'ModelCallCompleted');

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.workflow_events_mv TO {db}.workflow_events AS
WITH event_type IN ('StepCompleted', 'StepFailed') AS step
SELECT topic, partition, offset, toUInt32(0) AS idx, event_id, event_type, occurred_at_ms, tenant,
       correlation_id, causation_id,
       JSONExtractString(payload, 'workflow_id') AS workflow_id,
       if(step, JSONExtractString(payload, 'step_id'), '') AS step_id,
       if(step, JSONExtractInt(payload, 'attempt'), 0) AS attempt,
       multiIf(event_type = 'WorkflowStarted', 'STARTED', event_type = 'StepCompleted', 'STEP_COMPLETED',
               event_type = 'StepFailed', 'STEP_FAILED', JSONExtractString(payload, 'status')) AS status,
       if(event_type = 'WorkflowStarted', 0, JSONExtractInt(payload, 'duration_ms')) AS duration_ms,
       multiIf(event_type = 'StepFailed', concat(JSONExtractString(payload, 'error_type'), ': ',
                                                 JSONExtractString(payload, 'error_message')),
               event_type = 'WorkflowCompleted', JSONExtractString(payload, 'error'), '') AS error
FROM {db}.events_in
WHERE event_type IN ('WorkflowStarted', 'StepCompleted', 'StepFailed', 'WorkflowCompleted');
