"""Versions of the services the launcher installs; compose/docker-compose.yml pins the same ones.

Checked on this workplace's registries (see docs/services.md):
- Kafka 4.1.1's runtime dependencies use the SLF4J 1.7 API (slf4j-api 1.7.36), so the logging
  backend must be an SLF4J 1.7 binding; a 2.0.x one would not attach.
- Apicurio Registry 3.3.3 needs Java 21+.
- Weaviate: the Go module proxy serves github.com/weaviate/weaviate up to v1.39.7, but refuses
  github.com/weaviate/sroar v0.0.17 and newer, which v1.39.4 and later require: v1.39.3 is the
  newest release that builds from the proxy.
"""

from __future__ import annotations

KAFKA = "4.1.1"
SLF4J_SIMPLE = "1.7.36"
MAVEN_DEPENDENCY_PLUGIN = "3.8.1"
APICURIO = "3.3.3"
APICURIO_MIN_JAVA = 21
WEAVIATE = "1.39.3"
WEAVIATE_MODULE = "github.com/weaviate/weaviate"
