-- Per-tenant usage: tasks, GPU and CPU allocated, GPU-hours released, model calls and their cost.
SELECT coalesce(t.tenant, m.tenant) AS tenant, ifNull(t.tasks_allocated, 0) AS tasks_allocated,
       round(t.gpu_milli_allocated / 1000, 2) AS gpus_allocated,
       round(t.cpu_milli_allocated / 1000, 1) AS cpus_allocated,
       round(t.gpu_hours_released, 3) AS gpu_hours_released,
       ifNull(m.calls, 0) AS model_calls, round(ifNull(m.cost_usd, 0), 4) AS model_cost_usd
FROM agentic.tenant_usage AS t
FULL OUTER JOIN (SELECT tenant, sum(calls) AS calls, sum(cost_usd) AS cost_usd
                 FROM agentic.model_costs GROUP BY tenant) AS m ON m.tenant = t.tenant
ORDER BY tenant
SETTINGS join_use_nulls = 1
