"""Where a processor stands, read from Kafka: input end and committed offset (lag), last output mark,
latest checkpoint, dead letters. What `agentic processor status` prints."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, TopicPartition

from agentic.connectors.kafka_positions import end_offsets

from . import tails
from .kafka import group_id_for
from .protocol import Processor


def committed_offset(bootstrap: str, group_id: str, topic: str) -> int | None:
    """The offset ``group_id`` committed for partition 0 of ``topic`` (None: nothing committed)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id, "enable.auto.commit": False})
    try:
        offset = consumer.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
        return int(offset) if offset >= 0 else None
    finally:
        consumer.close()


def processor_status(bootstrap: str, processor: Processor[Any, Any, Any], checkpoint_topic: str,
                     group_id: str | None = None) -> dict[str, Any]:
    topic = processor.inputs[0]
    ends = end_offsets(bootstrap, [topic, processor.output, f"{topic}.dlq"])
    end = ends.get((topic, 0), 0)
    committed = committed_offset(bootstrap, group_id or group_id_for(processor.name), topic)
    mark = tails.last_mark(bootstrap, processor.output, 0, processor.name)
    checkpoint = tails.latest_checkpoint(bootstrap, checkpoint_topic, processor.name)
    return {
        "processor": processor.name, "version": processor.version, "input": topic, "input_end": end,
        "committed_offset": committed, "lag": end - (committed or 0),  # committed at each checkpoint
        "output": processor.output, "output_records": ends.get((processor.output, 0), 0),
        "last_output_mark": None if mark is None else [mark.offset, mark.index],
        "checkpoint_next_offset": None if checkpoint is None else checkpoint.next_offset,
        "checkpoint_version": None if checkpoint is None else checkpoint.version,
        "checkpoint_snapshot_bytes": None if checkpoint is None else len(checkpoint.snapshot),
        "checkpoint_usable": checkpoint is not None and checkpoint.usable_for(
            processor.name, processor.version, topic, 0) is None,
        "dead_letters": ends.get((f"{topic}.dlq", 0), 0),
    }
