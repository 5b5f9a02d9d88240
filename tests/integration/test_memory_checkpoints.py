"""Task checkpoints over the real Kafka and registry: resuming after a restart gives the saved state."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from agentic.cli.main import cli
from agentic.config import Settings
from agentic.memory import MemoryInputError
from agentic.memory.checkpoints import Checkpoints
from agentic.sdk import AgenticClient

pytestmark = pytest.mark.integration


def test_resume_after_restart_returns_the_last_saved_state(services: Settings) -> None:
    tenant, task = f"ck-{uuid.uuid4().hex[:8]}", "task-42"
    states = [{"step": i, "todo": ["a", "b"][i:], "scores": {"x": i / 3}} for i in range(3)]
    first = Checkpoints(AgenticClient.connect(services))
    made = [first.create(tenant, task, s, intermediate_result=f"r{i}", next_steps=[f"n{i}"])
            for i, s in enumerate(states)]
    assert [c.sequence for c in made] == [1, 2, 3]
    restarted = Checkpoints(AgenticClient.connect(services))  # a new process would build exactly this
    resumed = restarted.resume(tenant, task)
    assert resumed is not None and resumed.state == states[-1] and resumed.state_json == made[-1].state_json
    assert [c.intermediate_result for c in restarted.history(tenant, task)] == ["r0", "r1", "r2"]
    assert restarted.resume(tenant, "other-task") is None and restarted.resume("other-tenant", task) is None
    with pytest.raises(MemoryInputError, match="tenant"):
        restarted.resume("", task)


def test_checkpoint_cli_create_resume_summary(services: Settings) -> None:
    env = {"AGENTIC_KAFKA_BOOTSTRAP": services.kafka_bootstrap, "AGENTIC_REGISTRY_URL": services.registry_url}
    tenant = f"ck-{uuid.uuid4().hex[:8]}"
    run = CliRunner().invoke
    made = run(cli, ["memory", "checkpoint", "create", "--tenant", tenant, "--task", "t1", "--state",
                     '{"cursor": 17}', "--reflection", "halfway", "--next-step", "fetch", "--next-step", "sum"],
               env=env, catch_exceptions=False)
    assert made.exit_code == 0, made.output
    resumed = run(cli, ["memory", "checkpoint", "resume", "--tenant", tenant, "--task", "t1"], env=env)
    body = json.loads(resumed.output.strip().splitlines()[-1])
    assert body["state"] == {"cursor": 17} and body["next_steps"] == ["fetch", "sum"]
    summary = run(cli, ["memory", "checkpoint", "summary", "--tenant", tenant, "--task", "t1", "--json"], env=env)
    assert [c["sequence"] for c in json.loads(summary.output.strip().splitlines()[-1])] == [1]
    bad = run(cli, ["memory", "checkpoint", "create", "--tenant", tenant, "--task", "t1", "--state", "{oops"],
              env=env)
    assert bad.exit_code == 1 and "state: not valid JSON" in bad.output
