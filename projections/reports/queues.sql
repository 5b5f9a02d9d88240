-- Queue waits per queue (submission to allocation), and what is pending now and why.
SELECT w.queue AS queue, w.allocations AS allocated_tasks, round(w.avg_wait_ms) AS avg_wait_ms,
       w.p50_wait_ms AS p50_wait_ms, w.p99_wait_ms AS p99_wait_ms, w.max_wait_ms AS max_wait_ms,
       ifNull(p.pending, 0) AS pending_now, ifNull(p.top_reason, '') AS top_pending_reason
FROM agentic.queue_waits AS w
LEFT JOIN (SELECT last_queue AS queue, count() AS pending, topK(1)(reason)[1] AS top_reason
           FROM agentic.task_latest WHERE state = 'PENDING' GROUP BY last_queue) AS p ON p.queue = w.queue
ORDER BY queue
