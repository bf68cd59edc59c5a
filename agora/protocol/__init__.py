"""Protocols: what a debate asks and who hears whom. A spec (YAML, validated), its prompt templates (Jinja2 in a
sandbox) and the typed contexts those templates see."""

from __future__ import annotations

from agora.protocol.loader import Protocol, list_protocols, load_protocol, resolve_protocol_path
from agora.protocol.spec import AggregationSpec, MediationSpec, PhaseSpec, ProtocolSpec, StopSpec

__all__ = [
    "AggregationSpec",
    "MediationSpec",
    "PhaseSpec",
    "Protocol",
    "ProtocolSpec",
    "StopSpec",
    "list_protocols",
    "load_protocol",
    "resolve_protocol_path",
]
