-- Model routing and cost per model: requests routed, calls by outcome, tokens, cost and latency.
SELECT model_id,
       countIf(event_type = 'RouteDecided') AS routed,
       countIf(event_type = 'ModelCallCompleted' AND status = 'SUCCEEDED') AS succeeded,
       countIf(event_type = 'ModelCallCompleted' AND status != 'SUCCEEDED') AS failed_or_limited,
       sumIf(input_tokens, event_type = 'ModelCallCompleted') AS input_tokens,
       sumIf(output_tokens, event_type = 'ModelCallCompleted') AS output_tokens,
       round(sum(cost_usd_micros) / 1e6, 4) AS cost_usd,
       round(quantileExactIf(0.5)(latency_ms, event_type = 'ModelCallCompleted' AND status = 'SUCCEEDED'))
           AS p50_latency_ms,
       round(quantileExactIf(0.99)(latency_ms, event_type = 'ModelCallCompleted' AND status = 'SUCCEEDED'))
           AS p99_latency_ms
FROM agentic.model_events FINAL
WHERE event_type != 'ModelRegistered'
GROUP BY model_id
ORDER BY routed DESC
