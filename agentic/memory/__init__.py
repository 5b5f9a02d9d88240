"""The memory service (SDK): validation of memory lines, the in-process write path, search, chain,
delete, task checkpoints and the fact graph.

    from agentic.memory import MemoryService
    from agentic.connectors.embeddings import load_embedder
    from agentic.connectors.weaviate import WeaviateMemoryStore
    embedder = load_embedder()
    store = WeaviateMemoryStore.connect(settings, embedder.dim); store.ensure_schema()
    memory = MemoryService(embedder, store)
    memory.write([{"tenant": "acme", "session_id": "s1", "content": "Alice likes tea"}])  # searchable on return
    hits = memory.search("acme", "what does Alice drink", k=10)   # scores + provenance
"""

from agentic.memory.lines import MemoryInputError, parse_line
from agentic.memory.service import MemoryService, WriteReport

__all__ = ["MemoryInputError", "MemoryService", "WriteReport", "parse_line"]
