"""Trace loading and the arrival sampling of the OpenB placement benchmark (synthetic CSVs)."""

from __future__ import annotations

import random
from pathlib import Path

from agentic.bench.openb import load_nodes, load_pods, typical_shapes
from agentic.bench.scheduler import arrivals, node_events, run

HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
    "creation_time,deletion_time,scheduled_time\n"
)


def write(tmp: Path, rows: list[str], nodes: list[str]) -> tuple[Path, Path]:
    pods, nodes_csv = tmp / "pods.csv", tmp / "nodes.csv"
    pods.write_text(HEADER + "".join(r + "\n" for r in rows))
    nodes_csv.write_text("sn,cpu_milli,memory_mib,gpu,model\n" + "".join(n + "\n" for n in nodes))
    return nodes_csv, pods


def test_loader_caps_gpu_milli_and_keeps_spec_for_gpu_pods_only(tmp_path: Path) -> None:
    n, p = write(tmp_path, ["a,1000,100,1,1500,V100M16|V100M32,LS,Running,0,10,0",
                            "b,2000,100,0,0,T4,BE,Failed,5,,"], ["x,96000,393216,8,G2"])
    a, b = load_pods(p)
    assert (a.gpu_milli, a.gpu_spec) == (1000, ("V100M16", "V100M32"))
    assert (b.gpu_milli, b.gpu_spec, b.deletion_time) == (0, (), 0)
    assert load_nodes(n)[0].gpus == 8
    assert sum(s.weight for s in typical_shapes([a, b])) == 2


def test_arrivals_reach_the_target_without_passing_it(tmp_path: Path) -> None:
    rows = [f"p{i},1000,100,1,{250 * (1 + i % 4)},,LS,Running,0,10,0" for i in range(20)]
    _, p = write(tmp_path, rows, [])
    pods = load_pods(p)
    arr = arrivals(pods, 16_000, 1.3, random.Random(7))
    total = sum(x.pod.total_gpu_milli for x in arr)
    assert 1.3 * 16_000 - 1000 < total <= 1.3 * 16_000
    assert {x.pod.name for x in arr[:20]} == {f"p{i}" for i in range(20)}  # every row is used
    assert len({x.task_id for x in arr}) == len(arr)
    assert [x.task_id for x in arrivals(pods, 16_000, 1.3, random.Random(7))] == [x.task_id for x in arr]


def test_nodes_register_in_a_seeded_order(tmp_path: Path) -> None:
    n, _ = write(tmp_path, [], [f"n{i:02d},32000,65536,4,T4" for i in range(30)])
    nodes = load_nodes(n)
    first = [e.node_id for e in node_events(nodes, random.Random(1))]
    assert sorted(first) == sorted(x.name for x in nodes) and first != sorted(first)
    assert first == [e.node_id for e in node_events(nodes, random.Random(1))]


def test_harness_drives_the_core_and_reports_ratios(tmp_path: Path) -> None:
    rows = [f"p{i},2000,1000,1,{250 * (1 + i % 3)},,LS,Running,0,10,0" for i in range(50)]
    n, p = write(tmp_path, rows, [f"n{i},32000,65536,4,T4" for i in range(40)])
    res = run(load_nodes(n), load_pods(p), "bestfit", 3)
    assert 0 < res["allocation_ratio_100"] <= res["allocation_ratio_130"] <= 1
    assert 0 <= res["fragmentation_ratio_90"] <= 1
    assert res["pods"] > 50 and res["decisions_per_s"] > 0
