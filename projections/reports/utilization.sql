-- GPU allocation over time (per minute of event time) against registered capacity, with node-reported utilisation.
SELECT a.minute AS minute,
       round(a.allocated_gpu_milli / 1000, 2) AS allocated_gpus,
       round(a.capacity_gpu_milli / 1000, 2) AS capacity_gpus,
       round(100 * a.allocation_ratio, 2) AS allocated_pct,
       round(100 * u.avg_gpu_utilization, 2) AS reported_util_pct
FROM agentic.gpu_allocation_timeline AS a
LEFT JOIN agentic.gpu_utilisation_timeline AS u ON u.minute = a.minute
ORDER BY minute
SETTINGS join_use_nulls = 1
