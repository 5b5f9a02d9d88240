"""`agentic bench ...`: benchmarks that print JSON (performance targets are checked here, not in tests).

One sub-command per benchmark; other groups add theirs (backbone, projections, memory).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

DATA = Path("../shared/data/openb")


@click.group()
def bench() -> None:
    """Benchmarks; each prints its measurements as JSON."""


def _seeds(seed: int, seeds: str | None) -> list[int]:
    if not seeds:
        return [seed]
    if ".." in seeds:
        lo, hi = (int(x) for x in seeds.split(".."))
        return list(range(lo, hi + 1))
    return [int(x) for x in seeds.split(",")]


@bench.command("scheduler")
@click.option("--nodes", "nodes_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=DATA / "openb_node_list_gpu_node.csv", show_default=True, help="Node list CSV.")
@click.option("--pods", "pods_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=DATA / "openb_pod_list_default.csv", show_default=True, help="Pod list CSV.")
@click.option("--arrive", type=float, default=1.3, show_default=True,
              help="Arrived GPU request as a fraction of GPU capacity.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--seeds", default=None, help="Several seeds, averaged: '42..51' or '42,43'.")
@click.option("--policy", default="frag", show_default=True,
              help="random|bestfit|fgd|frag|spread, or a comma list run in the same process.")
@click.option("--frag-prior/--frag-online", default=False, show_default=True,
              help="Give `frag` the pod list's request distribution instead of learning it online.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON only (the default output is JSON too).")
def scheduler_cmd(nodes_csv: Path, pods_csv: Path, arrive: float, seed: int, seeds: str | None,
                  policy: str, frag_prior: bool, as_json: bool) -> None:
    """OpenB placement benchmark (FGD methodology) through the real scheduler core."""
    from agentic.bench.openb import load_nodes, load_pods
    from agentic.bench.scheduler import POLICIES, average, run

    policies = [p.strip() for p in policy.split(",") if p.strip()]
    for p in policies:
        if p not in POLICIES:
            raise click.BadParameter(f"{p!r} is not one of {', '.join(POLICIES)}", param_hint="--policy")
    nodes, pods = load_nodes(nodes_csv), load_pods(pods_csv)
    out: list[dict[str, Any]] = []
    for p in policies:
        runs = [run(nodes, pods, p, s, arrive, frag_prior) for s in _seeds(seed, seeds)]
        res = runs[0] if len(runs) == 1 else average(runs) | {"per_seed": runs}
        out.append(res | {"pod_list": pods_csv.name, "arrive": arrive})
    click.echo(json.dumps(out[0] if len(out) == 1 else {"results": out}, indent=None if as_json else 2))





@bench.command("backbone")
@click.option("--events", "n_events", type=click.IntRange(min=1000), default=200_000, show_default=True,
              help="Mixed, realistically sized events per round.")
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True,
              help="Alternating rounds of baseline and measured path; the best of each counts.")
@click.option("--partitions", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Records asked for per poll, on both sides.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON only (the default output is JSON too).")
@click.pass_obj
def backbone_cmd(settings: Any, n_events: int, rounds: int, partitions: int, batch: int, as_json: bool) -> None:
    """Typed events produced and consumed through Kafka vs raw confluent-kafka on the same bytes."""
    from agentic.bench.backbone import run

    result = run(settings, n_events, rounds=rounds, partitions=partitions, batch=batch)
    click.echo(json.dumps(result, indent=None if as_json else 2))


@bench.command("scheduler-time")
@click.option("--nodes", "nodes_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=DATA / "openb_node_list_gpu_node.csv", show_default=True, help="Node list CSV.")
@click.option("--pods", "pods_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=DATA / "openb_pod_list_default.csv", show_default=True, help="Pod list CSV.")
@click.option("--policy", default="frag", show_default=True, help="Policy compared with FIFO first-fit.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--limit", type=int, default=0, help="Only the first N pods by creation time (0 = all).")
@click.option("--speedup", type=float, default=1.0, show_default=True,
              help="Divide arrival times by this factor (durations unchanged) to load the cluster.")
@click.option("--node-fraction", type=float, default=1.0, show_default=True,
              help="Keep this fraction of the nodes (every k-th by name) to create contention.")
@click.option("--json", "as_json", is_flag=True, help="Compact JSON.")
def scheduler_time_cmd(nodes_csv: Path, pods_csv: Path, policy: str, seed: int, limit: int, speedup: float,
                       node_fraction: float, as_json: bool) -> None:
    """Replay the trace over time with departures: queueing delay, JCT, Jain's index vs FIFO first-fit."""
    from agentic.bench.openb import load_nodes, load_pods
    from agentic.bench.scheduler_time import configs, replay

    nodes = sorted(load_nodes(nodes_csv), key=lambda n: n.name)
    step = max(1, round(1 / node_fraction)) if node_fraction < 1 else 1
    nodes = nodes[::step]
    pods = sorted(load_pods(pods_csv), key=lambda p: (p.creation_time, p.name))
    pods = pods[:limit] if limit else pods
    out = {name: replay(nodes, pods, cfg, seed, speedup) for name, cfg in configs(policy, seed).items()}
    click.echo(json.dumps({"pod_list": pods_csv.name, "seed": seed, "speedup": speedup, "nodes": len(nodes),
                           "results": out},
                          indent=None if as_json else 2))


@bench.command("scheduler-kafka")
@click.option("--nodes", "nodes_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=DATA / "openb_node_list_gpu_node.csv", show_default=True, help="Node list CSV.")
@click.option("--pods", "pods_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=DATA / "openb_pod_list_default.csv", show_default=True, help="Pod list CSV.")
@click.option("--arrive", type=float, default=1.3, show_default=True,
              help="Arrived GPU request as a fraction of GPU capacity.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--policy", default="frag", show_default=True, help="Scheduler placement policy.")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=5_000, show_default=True)
@click.option("--runtime", type=click.Choice(["both", "faust", "confluent"]), default="both", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Compact JSON.")
@click.pass_obj
def scheduler_kafka_cmd(settings: Any, nodes_csv: Path, pods_csv: Path, arrive: float, seed: int, policy: str,
                        checkpoint_every: int, runtime: str, as_json: bool) -> None:
    """OpenB nodes and tasks through Kafka: the scheduler processor's decisions/s end to end."""
    from agentic import wiring
    from agentic.bench.scheduler_kafka import run

    runtimes = ("faust", "confluent") if runtime == "both" else (runtime,)
    result = run(settings.kafka_bootstrap, wiring.codec(settings), nodes_csv, pods_csv, seed, arrive,
                 checkpoint_every, policy, runtimes)
    click.echo(json.dumps(result, indent=None if as_json else 2))


@bench.command("projections")
@click.option("--events", "n_events", type=click.IntRange(min=1000), default=200_000, show_default=True,
              help="Events produced (scheduling-heavy mix) before the timed runs.")
@click.option("--partitions", type=click.IntRange(min=1), default=3, show_default=True,
              help="Partitions of each of the two benchmark topics.")
@click.option("--batch", "batch_records", type=click.IntRange(min=100), default=50_000, show_default=True)
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Processes that decode and map records (0: all in the projector's process; default: 0 with "
                   "the compiled row encoder, else 2).")
@click.option("--json", "as_json", is_flag=True, help="Compact JSON.")
@click.pass_obj
def projections_cmd(settings: Any, n_events: int, partitions: int, batch_records: int, workers: int | None,
                    as_json: bool) -> None:
    """Kafka -> ClickHouse end to end (raw and typed tables) and replay rebuild, in events/s."""
    from agentic.bench.projections import run

    result = run(settings, n_events, partitions=partitions, batch_records=batch_records, workers=workers)
    click.echo(json.dumps(result, indent=None if as_json else 2))


@bench.command("memory")
@click.option("--memories", "n_memories", type=click.IntRange(min=1000), default=100_000, show_default=True,
              help="Memories stored in one tenant before search latency is measured.")
@click.option("--conversations", type=click.IntRange(min=1), default=10, show_default=True,
              help="Generated conversations (a tenant each) for recall@k.")
@click.option("--queries", type=click.IntRange(min=10), default=500, show_default=True)
@click.option("--alpha", type=click.FloatRange(0, 1), default=None,
              help="Hybrid vector weight (default DEFAULT_ALPHA, 0.2).")
@click.option("--embedder", default="wordllama-256", show_default=True)
@click.option("--locomo", type=click.Path(exists=True, path_type=Path), default=None,
              help="Recall on LoCoMo (locomo10.json, a locomo10_v2/<n>.json file or folder, or the zip) "
                   "instead of the generated dataset.")
@click.option("--json", "as_json", is_flag=True, help="Compact JSON.")
@click.pass_obj
def memory_cmd(settings: Any, n_memories: int, conversations: int, queries: int, alpha: float | None,
               embedder: str, locomo: Path | None, as_json: bool) -> None:
    """Memory ingest/s end to end, hybrid search p50/p95 at N memories, recall@k by retrieval mode."""
    from agentic.bench.memory import MemoryBenchConfig, run
    from agentic.connectors.weaviate import DEFAULT_ALPHA

    cfg = MemoryBenchConfig(n_memories=n_memories, conversations=conversations, queries=queries,
                            alpha=DEFAULT_ALPHA if alpha is None else alpha, embedder=embedder, locomo=locomo)
    click.echo(json.dumps(run(settings, cfg), indent=None if as_json else 2))
