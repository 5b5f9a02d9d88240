-- Tool-call audit: per tool, how many calls were allowed, denied, held for approval, and how they ended.
SELECT tool_name, count() AS calls,
       countIf(decision = 'ALLOW') AS allowed, countIf(decision = 'DENY') AS denied,
       countIf(decision = 'REQUIRE_APPROVAL') AS approval,
       countIf(status = 'SUCCEEDED') AS succeeded, countIf(status NOT IN ('', 'SUCCEEDED')) AS failed,
       round(avgIf(duration_ms, status != ''), 1) AS avg_duration_ms
FROM agentic.tool_call_audit
GROUP BY tool_name ORDER BY calls DESC
