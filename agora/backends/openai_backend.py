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
- **Deadlines.** ``timeout_s`` bounds each attempt as a whole (connecting, sending, and every byte of the reply),
  so a server that trickles its reply cannot hold a turn; ``deadline_s`` bounds the request, every attempt and
  every wait between them (default: ``timeout_s * (max_retries + 1) + max_backoff_s * max_retries``).
- A request that times out, cannot connect, or gets 408, 409, 425, 429 or a 5xx answer is retried up to
  ``max_retries`` times, waiting ``backoff_s * 2**attempt`` seconds (at most ``max_backoff_s``), or what the
  server's ``Retry-After`` asks (seconds or an HTTP date; at most ``max_retry_after_s``, 60 s; ``nan``, ``inf``,
  negative or unreadable values are ignored). A wait that would pass the deadline is not waited: the request fails
  at once. Other 4xx answers fail at once with the server's message, and redirects are not followed.
- **Sizes.** At most ``max_reply_bytes`` (4 MiB) of a reply are read; a longer one fails the request. A reply
  longer than its ``max_tokens`` could be (16 characters a token) is cut there, logged and marked ``length``.
- Every failure is one :class:`EndpointError` line naming the URL and what went wrong (a malformed reply says
  which field), which the engine records as that agent's failed turn.
- Scored ballots need the log-probability of given text, which chat completions do not offer. With
  ``completion_template`` set (``chatml`` for SmolLM2 and Qwen), the prompt is laid out as text and sent to
  ``POST {URL}/completions`` with ``echo`` and ``logprobs``; a server that does not return prompt log-probabilities
  (or no template) raises :class:`~agora.backends.base.ScoringUnsupported`, and the ballot is recorded as
  failed: use generated (ranked or approval) ballots with such servers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from dataclasses import dataclass
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
from agora.backends.http_reply import (
    MAX_REPLY_BYTES,
    MAX_RETRY_AFTER_S,
    RawReply,
    Received,
    ReplyTooLarge,
    parse_retry_after,
    read_reply,
    snippet,
    transport_problem,
)
from agora.backends.reply_shapes import (
    MalformedReply,
    NoLogprobs,
    cap_text,
    chat_text,
    parse_json,
    prompt_logprobs,
    usage,
)
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


@dataclass(frozen=True)
class _Retry:
    """An attempt that failed in a way another attempt may mend: why, and how long the server asks us to wait."""

    problem: str
    wait: float | None = None
    asked: str = ""


def _secs(seconds: float) -> str:
    """``0.1``, ``2.5``, ``120``: seconds for messages."""
    return f"{seconds:.2f}".rstrip("0").rstrip(".")


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS context, made once: making it for every request takes about 50 ms of the event loop."""
    import httpx

    return httpx.create_ssl_context()


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
            f"; timeout {_secs(settings.timeout_s)} s an attempt, {settings.max_retries} retries, "
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
        deadline_s: float | None = None,
        max_reply_bytes: int = MAX_REPLY_BYTES,
        max_retry_after_s: float = MAX_RETRY_AFTER_S,
        completion_template: str | None = None,
        name: str | None = None,
        transport: Any = None,
        credential: Credential | None = None,
    ):
        import httpx  # noqa: F401 - fail here, with the install hint from resolve_backend, not mid-debate

        if completion_template is not None and completion_template not in COMPLETION_TEMPLATES:
            raise ValueError(f"unknown completion_template {completion_template!r}")
        if api_key is not None and credential is not None:
            raise ValueError("give api_key or credential, not both")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = name or f"{model}@{self.base_url}"
        if credential is None:
            reason = "sent (an api_key given in Python)" if api_key else "none"
            credential = Credential(self.base_url, None, reason, api_key or None)
        self.credential = credential
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        #: the whole request, every attempt and every wait between them included
        self.deadline_s = (
            deadline_s
            if deadline_s is not None
            else timeout_s * (max_retries + 1) + max_backoff_s * max_retries
        )
        self.max_reply_bytes = max_reply_bytes
        self.max_retry_after_s = max_retry_after_s
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

    async def _attempt(
        self, url: str, payload: dict[str, Any], budget: float, received: Received
    ) -> RawReply:
        """Send one request and read its reply, all of it within ``budget`` seconds (connecting, sending, every
        byte), no more than ``max_reply_bytes`` of it; ``received`` says how far it got."""
        import httpx

        headers = self.credential.headers()
        async with httpx.AsyncClient(
            timeout=budget, transport=self._transport, follow_redirects=False, verify=_tls()
        ) as client:  # made before the clock starts: the budget is the server's, not our set-up's
            reading = read_reply(client, url, payload, headers, self.max_reply_bytes, received)
            return await asyncio.wait_for(reading, budget)

    async def warm_up(self) -> None:
        """Make the TLS context and import httpx's transport now (a few hundred ms the first time), not inside the
        first request's deadline."""
        import httpx

        async with httpx.AsyncClient(transport=self._transport, verify=_tls()):
            pass

    async def _post(self, path: str, payload: dict[str, Any]) -> Any:
        """POST JSON within the endpoint's concurrency limit, attempt timeout, retries and request deadline; return
        the JSON answer. Every failure is one :class:`EndpointError` line naming the URL.

        The deadline runs from the moment the first attempt gets its slot: waiting behind other requests before
        that is not this request's fault (the turn's own timeout bounds it); waiting for a slot for a retry is."""
        url = f"{self.base_url}{path}"
        loop = asyncio.get_running_loop()
        limit = limit_for(self.base_url, self.max_concurrency)
        last, tries = "no attempt", 0
        deadline: float | None = None
        for attempt in range(self.max_retries + 1):
            if deadline is None:
                await limit.acquire(self.model)
                deadline = loop.time() + self.deadline_s
            else:
                try:
                    await asyncio.wait_for(limit.acquire(self.model), max(deadline - loop.time(), 0.0))
                except asyncio.TimeoutError:
                    last += f" (no free slot before the request deadline of {_secs(self.deadline_s)} s)"
                    break
            try:
                tries += 1
                outcome = await self._try_once(url, payload, min(self.timeout_s, deadline - loop.time()))
            finally:
                limit.release(self.model)
            if not isinstance(outcome, _Retry):
                return outcome
            last = outcome.problem
            if attempt == self.max_retries:
                break
            delay = outcome.wait if outcome.wait is not None else self._delay(attempt)
            if loop.time() + delay >= deadline:
                because = outcome.asked or f"the next try is {_secs(delay)} s away"
                last += f" ({because}, past the request deadline of {_secs(self.deadline_s)} s)"
                break
            await asyncio.sleep(delay)
        raise EndpointError(f"{url} failed after {tries} attempt{'s' if tries != 1 else ''}: {last}")

    async def _try_once(self, url: str, payload: dict[str, Any], budget: float) -> Any:
        """One attempt: the JSON answer, a :class:`_Retry` saying why another attempt may help, or an
        :class:`EndpointError` when none would."""
        import httpx

        self.attempts += 1
        received = Received()
        try:
            raw = await self._attempt(url, payload, budget, received)
        except (asyncio.TimeoutError, httpx.TimeoutException):
            if received.status is None:
                return _Retry(f"no answer within {_secs(budget)} s")
            return _Retry(
                f"the reply was still arriving after {_secs(budget)} s ({received.bytes} bytes so far)"
            )
        except httpx.TransportError as exc:
            return _Retry(transport_problem(exc))
        except ReplyTooLarge as exc:
            raise EndpointError(f"{url}: {exc}; the request failed", received.status) from None
        if raw.status < 300:
            try:
                return parse_json(raw.body)
            except MalformedReply as exc:
                raise EndpointError(f"{url}: {exc}", raw.status) from None
        if raw.status < 400:
            where = snippet(raw.headers.get("location", "?"), 200)
            raise EndpointError(
                f"{url}: HTTP {raw.status}, redirected to {where}; agora does not follow redirects: "
                "name the final URL in the card",
                raw.status,
            )
        problem = f"HTTP {raw.status}: {snippet(raw.body, 300)}"
        if raw.status not in RETRY_STATUSES:
            raise EndpointError(f"{url}: {problem}", raw.status)
        header = raw.headers.get("retry-after")
        seconds = parse_retry_after(header)
        if seconds is not None:
            return _Retry(
                problem, min(seconds, self.max_retry_after_s), f"Retry-After asks for {_secs(seconds)} s"
            )
        if header is not None:
            problem += f" (Retry-After {snippet(header, 40)!r} ignored)"
        return _Retry(problem)

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
        url = f"{self.base_url}/chat/completions"
        data = await self._post("/chat/completions", payload)
        try:
            text, finish = chat_text(data)
        except MalformedReply as exc:
            raise EndpointError(f"{url}: {exc}") from None
        text, cut = cap_text(text.strip(), request.max_new_tokens)
        extra: dict[str, Any] = {"endpoint": self.base_url, "served_model": data.get("model")}
        if not isinstance(extra["served_model"], str):
            extra["served_model"] = None
        if cut:
            note = f"{url} ignored max_tokens {request.max_new_tokens}: the reply was cut to {len(text)} characters"
            extra["note"] = note
            log.warning("%s", f"agent {request.agent or '?'}: {note}")
        prompt_tokens, completion_tokens = usage(data)
        return Generation(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason="length" if cut or finish == "length" else "stop",
            latency_s=time.perf_counter() - start,
            extra=extra,
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
            offsets, values, tokens, generated = prompt_logprobs(data)
        except NoLogprobs:
            raise ScoringUnsupported(f"endpoint {self.name!r} returned no prompt log-probabilities") from None
        except MalformedReply as exc:
            raise EndpointError(f"{self.base_url}/completions: {exc}") from None
        # Offsets may count special tokens as text (vLLM) or not (llama.cpp), so the continuation is found from
        # where the prompt ends: it is the last len(continuation) characters before the first generated token.
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
            "timeout_s": self.timeout_s,
            "deadline_s": self.deadline_s,
            "max_reply_bytes": self.max_reply_bytes,
            "credential": self.credential.reason,
        }
