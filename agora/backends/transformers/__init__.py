"""The local backend: a Hugging Face ``transformers`` causal LM in this process, batched, with a shared KV cache.

The only package that imports torch and transformers (its modules do; importing the package itself does not).
One job per module:

- ``backend``: :class:`~agora.backends.transformers.backend.TransformersBackend`, the adapter to the Backend contract
- ``pool``: the model pool (``DEFAULT_POOL``), one loaded instance per model, device and dtype, with its batchers
- ``loading``: weights onto a device, the prompt format, device and dtype defaults, torch's thread count
- ``inputs``: a request's prompt rendered and tokenised; a batch's rows laid out as padded tensors
- ``generate``: one batch of generation requests: prompt passes, then decoding step by step
- ``score``: one batch of scoring requests: the log-likelihoods of their continuations
- ``kv_cache``: the one-block KV cache, and how a forward pass takes and returns a cache
"""

import os

# PyTorch's OpenMP threads spin while idle; on a small machine that starves everything else. Must be set before
# torch is first imported to take effect: every module of this package is imported after this one.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
