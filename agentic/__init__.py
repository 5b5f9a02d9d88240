"""Agentic Infra: an event-sourced control plane for AI-agent infrastructure."""

__version__ = "0.1.0"
