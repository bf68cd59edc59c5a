"""The local backend: a transformers model in this process, batched, with a shared KV cache. Imports torch."""
