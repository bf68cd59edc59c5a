"""A model behind an OpenAI-compatible HTTP endpoint: vLLM, SGLang, llama.cpp's server, Ollama, hosted APIs.

A persona card names it as ``model: NAME@URL`` (``URL`` up to and including ``/v1``), for example
``smollm2@http://127.0.0.1:8080/v1``; an optional ``endpoint:`` block in the card sets the concurrency limit, the
timeout and the retries, and may ask for an API key variable.

- Text comes from ``POST {URL}/chat/completions``; the server's token usage is recorded with each message.
- **Credentials** go only where the user's allowlist sends them (``AGORA_ENDPOINT_KEYS`` or the user's
  ``endpoint-keys.yaml``, see :mod:`agora.backends.credentials`): a card's ``api_key_env`` alone sends nothing,
  so no card and no resumed transcript can send a key to a host the user did not name.
- At most ``max_concurrency`` requests are in flight per endpoint (URL), and no model name can take every slot
  (:mod:`agora.backends.fair_limit`): a model the server never answers leaves the others on that URL a slot.
- A request that times out, cannot connect, or gets 429 or a 5xx answer is retried up to ``max_retries`` times,
  waiting ``backoff_s * 2**attempt`` seconds (at most ``max_backoff_s``), or what the server's ``Retry-After``
  asks. Other 4xx answers fail at once with the server's message. A request that still fails raises
  :class:`EndpointError`, which the engine records as that agent's failed turn.
- Scored ballots need the log-probability of given text, which chat completions do not offer. With
  ``completion_template`` set (``chatml`` for SmolLM2 and Qwen), the prompt is laid out as text and sent to
  ``POST {URL}/completions`` with ``echo`` and ``logprobs``; a server that does not return prompt log-probabilities
  (or no template) raises :class:`~agora.backends.base.ScoringUnsupported`, and the ballot is recorded as
  failed: use generated (ranked or approval) ballots with such servers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from agora.backends.base import (
    Backend,
    ChatMessage,
    Generation,
    GenerationRequest,
    ScoreRequest,
    Scores,
    ScoringUnsupported,
)
from agora.backends.credentials import Credential, credential_for
from agora.backends.fair_limit import limit_for, register
from agora.errors import ModelNotFoundError, one_line

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})

log = logging.getLogger("agora.backends.openai")


class EndpointError(RuntimeError):
    """An endpoint did not answer (after retries), or answered with an error (``status``: its HTTP status)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def split_ref(ref: str) -> tuple[str, str]:
    """``NAME@URL`` -> (NAME, URL without a trailing slash)."""
    name, _, url = ref.partition("@")
    return name, url.rstrip("/")


def _chatml(messages: tuple[ChatMessage, ...]) -> str:
    turns = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"


def _plain(messages: tuple[ChatMessage, ...]) -> str:
    return "\n\n".join(f"{m.role.capitalize()}: {m.content}" for m in messages) + "\n\nAssistant:"


#: how a chat prompt is written as plain text for /v1/completions (scoring only)
COMPLETION_TEMPLATES = {"chatml": _chatml, "plain": _plain}


def _retry_after(value: str | None, cap: float) -> float | None:
    try:
        return min(max(float(value), 0.0), cap) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def endpoint_line(ref: str, settings: Any = None) -> str:
    """One line about a card's endpoint for ``agora personas``: its URL, whether a credential would be sent (and
    from which variable, or why not), and the card's tuning."""
    _, url = split_ref(ref)
    try:
        credential = credential_for(url, settings.api_key_env if settings is not None else None)
    except ValueError as exc:
        return f"{url} (not usable: {exc})"
    line = f"{url}; credential: {credential.reason}"
    if settings is not None:
        line += (
            f"; timeout {settings.timeout_s:g} s, {settings.max_retries} retries, "
            f"{settings.max_concurrency} in flight"
        )
    return line


class OpenAIBackend(Backend):
    """Chat completions (and, where the server offers them, completion log-probabilities) over HTTP."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        max_concurrency: int = 4,
        timeout_s: float = 120.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        completion_template: str | None = None,
        name: str | None = None,
        transport: Any = None,
        credential: Credential | None = None,
    ):
        import httpx  # noqa: F401 - fail here, with the install hint from resolve_backend, not mid-debate

        if completion_template is not None and completion_template not in COMPLETION_TEMPLATES:
            raise ValueError(f"unknown completion_template {completion_template!r}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = name or f"{model}@{self.base_url}"
        if api_key is not None and credential is not None:
            raise ValueError("give api_key or credential, not both")
        if credential is None:
            reason = "sent (an api_key given in Python)" if api_key else "none"
            credential = Credential(self.base_url, None, reason, api_key or None)
        self.credential = credential
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.completion_template = completion_template
        self._transport = transport  # tests may pass an httpx transport
        self.attempts = 0  # HTTP requests sent, retries included
        register(self.base_url, self)  # keeps a slot of the URL's concurrency limit for this model

    @property
    def api_key(self) -> str | None:
        """The key sent with each request (None: none is)."""
        return self.credential.key

    @classmethod
    def from_ref(cls, ref: str, settings: Any = None, *, source: str | None = None) -> OpenAIBackend:
        """The backend for a card's ``NAME@URL`` and its optional ``endpoint:`` settings.

        A key is sent only where the user's allowlist (:mod:`agora.backends.credentials`) allows it; the card's
        ``api_key_env`` is a request, never a permission. A withheld key is logged in one line and noted in
        :meth:`describe`, which the transcript header records.
        """
        model, url = split_ref(ref)
        requested = settings.api_key_env if settings is not None else None
        try:
            credential = credential_for(url, requested)
        except ValueError as exc:
            raise ModelNotFoundError(str(exc), source=source, field="model") from None
        if requested is not None and credential.variable != requested:
            log.warning(
                "%s", one_line(f"{source or ref}: endpoint {credential.origin}: key {credential.reason}")
            )
        kwargs: dict[str, Any] = {}
        if settings is not None:
            kwargs.update(
                max_concurrency=settings.max_concurrency,
                timeout_s=settings.timeout_s,
                max_retries=settings.max_retries,
                completion_template=settings.completion_template,
            )
        return cls(url, model, name=ref, credential=credential, **kwargs)

    # -- HTTP ---------------------------------------------------------------------------------------------------
    def _delay(self, attempt: int) -> float:
        return min(self.max_backoff_s, self.backoff_s * 2**attempt)

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST JSON with the endpoint's concurrency limit, timeout and retries; return the JSON answer."""
        import httpx

        url = f"{self.base_url}{path}"
        headers = self.credential.headers()
        last = "no attempt"
        for attempt in range(self.max_retries + 1):
            wait: float | None = None
            async with limit_for(self.base_url, self.max_concurrency).slot(self.model):
                self.attempts += 1
                try:
                    async with httpx.AsyncClient(
                        timeout=self.timeout_s, transport=self._transport, follow_redirects=False
                    ) as client:
                        response = await client.post(url, json=payload, headers=headers)
                except httpx.TimeoutException:
                    last = f"no answer within {self.timeout_s:g} s"
                except httpx.TransportError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    if response.status_code < 400:
                        try:
                            return response.json()
                        except ValueError:
                            raise EndpointError(f"{url} answered with something that is not JSON") from None
                    last = f"HTTP {response.status_code}: {response.text[:300]}"
                    if response.status_code not in RETRY_STATUSES:
                        raise EndpointError(f"{url}: {last}", response.status_code)
                    wait = _retry_after(response.headers.get("retry-after"), self.max_backoff_s)
            if attempt < self.max_retries:
                await asyncio.sleep(wait if wait is not None else self._delay(attempt))
        tries = self.max_retries + 1
        raise EndpointError(f"{url} failed after {tries} attempt{'s' if tries > 1 else ''}: {last}")

    # -- the Backend contract ------------------------------------------------------------------------------------
    async def generate(self, request: GenerationRequest) -> Generation:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [m.as_dict() for m in request.messages],
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if request.seed is not None:
            payload["seed"] = request.seed
        if request.stop:
            payload["stop"] = list(request.stop)
        start = time.perf_counter()
        data = await self._post("/chat/completions", payload)
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise EndpointError(
                f"{self.base_url}/chat/completions answered without choices[0].message"
            ) from None
        usage = data.get("usage") or {}
        return Generation(
            text=text.strip(),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
            latency_s=time.perf_counter() - start,
            extra={"endpoint": self.base_url, "served_model": data.get("model")},
        )

    async def score(self, request: ScoreRequest) -> Scores:
        if self.completion_template is None:
            raise ScoringUnsupported(
                f"endpoint {self.name!r} has no completion_template, so its log-probabilities cannot be read; "
                "use ranked or approval ballots"
            )
        start = time.perf_counter()
        prefix = COMPLETION_TEMPLATES[self.completion_template](request.messages)
        results = await asyncio.gather(*(self._score_one(prefix, text) for text in request.continuations))
        return Scores(
            logprobs=tuple(lp for lp, _, _ in results),
            tokens=tuple(n for _, n, _ in results),
            prompt_tokens=results[0][2] if results else 0,
            latency_s=time.perf_counter() - start,
        )

    async def _score_one(self, prefix: str, continuation: str) -> tuple[float, int, int]:
        """(sum of log-probabilities of ``continuation``'s tokens after ``prefix``, their count, prompt tokens)."""
        payload = {
            "model": self.model,
            "prompt": prefix + continuation,
            "max_tokens": 1,
            "temperature": 0.0,
            "echo": True,
            "logprobs": 1,
        }
        try:
            data = await self._post("/completions", payload)
        except EndpointError as exc:
            if exc.status is not None and 400 <= exc.status < 500:  # no /completions, or no echo/logprobs
                raise ScoringUnsupported(f"endpoint {self.name!r} cannot score: {exc}") from None
            raise
        try:
            logprobs = data["choices"][0]["logprobs"]
            offsets = list(logprobs["text_offset"])
            values = list(logprobs["token_logprobs"])
            tokens = list(logprobs.get("tokens") or [])
        except (KeyError, IndexError, TypeError):
            offsets = values = tokens = []
        if not offsets or len(offsets) != len(values):
            raise ScoringUnsupported(f"endpoint {self.name!r} returned no prompt log-probabilities")
        # Offsets may count special tokens as text (vLLM) or not (llama.cpp), so the continuation is found from
        # where the prompt ends: it is the last len(continuation) characters before the first generated token.
        generated = int((data.get("usage") or {}).get("completion_tokens", 1))
        in_prompt = len(offsets) - generated
        if generated > 0 and 0 < in_prompt < len(offsets):
            end = offsets[in_prompt]
        elif tokens and len(tokens) == len(offsets):
            in_prompt, end = len(offsets), offsets[-1] + len(tokens[-1])
        else:
            raise ScoringUnsupported(
                f"endpoint {self.name!r} returned log-probabilities without usage or tokens"
            )
        begin = end - len(continuation)
        picked = [values[i] for i in range(in_prompt) if begin <= offsets[i] < end]
        if not picked or any(v is None for v in picked):
            raise ScoringUnsupported(f"endpoint {self.name!r} did not echo the prompt's log-probabilities")
        return float(sum(picked)), len(picked), in_prompt - len(picked)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "openai",
            "name": self.name,
            "endpoint": self.base_url,
            "model": self.model,
            "max_concurrency": self.max_concurrency,
            "credential": self.credential.reason,
        }
