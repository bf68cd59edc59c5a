"""agora: debates between contributed language models.

Each contributed model is an agent with stated values (a persona card); asyncio protocols run rounds of proposal,
critique, revision and voting over a networkx interaction graph; an aggregator turns ballots into a final answer
and reports who dissented. ``import agora`` does not import torch.
"""

from __future__ import annotations

from agora._version import __version__ as __version__
from agora.aggregation import RULES, Ballot, aggregate, register_rule, same_position
from agora.backends import Backend, ChatMessage, Generation, GenerationRequest, ScriptedBackend
from agora.errors import (
    AgoraError,
    ConfigError,
    DebateError,
    ModelNotFoundError,
    PluginError,
    TranscriptError,
)
from agora.graph import GraphSpec, build_graph
from agora.persona import Persona, load_persona, load_personas
from agora.protocol import Protocol, ProtocolSpec, load_protocol
from agora.run.debate import Debate, DebateResult
from agora.run.resume import debate_from_transcript, resume, resume_sync
from agora.transcript import Transcript
from agora.views import html as _html  # noqa: F401  (shows transcripts and outcomes in notebooks)

__all__ = [
    "RULES",
    "AgoraError",
    "Backend",
    "Ballot",
    "ChatMessage",
    "ConfigError",
    "Debate",
    "DebateError",
    "DebateResult",
    "Generation",
    "GenerationRequest",
    "GraphSpec",
    "ModelNotFoundError",
    "Persona",
    "PluginError",
    "Protocol",
    "ProtocolSpec",
    "ScriptedBackend",
    "Transcript",
    "TranscriptError",
    "aggregate",
    "build_graph",
    "debate_from_transcript",
    "load_persona",
    "load_personas",
    "load_protocol",
    "register_rule",
    "resume",
    "resume_sync",
    "same_position",
]
