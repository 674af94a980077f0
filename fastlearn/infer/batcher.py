"""Dynamic batching for a server: requests that arrive together share one forward pass.

Every forward pass runs on one worker thread, never on the server's event loop, so a
prediction in flight does not hold up other requests (`/health`, uploads, the page). Items
that wait while a pass runs form the next batch, up to `max_batch`. A request `announce`s
itself when it arrives, before its image is decoded; a batch waits (at most `max_wait`
seconds) only for requests announced and still being decoded, so a lone client never waits
for company that is not coming. `max_batch=1` gives one pass per request (the unbatched server).
"""
from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future

import numpy as np

__all__ = ["PredictionBatcher"]


class PredictionBatcher:
    """Answers `submit(pixels)` with a Future of the Prediction, computed in batches on one thread."""

    def __init__(self, predictor, k: int = 3, max_batch: int = 16, max_wait: float = 0.005):
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.predictor, self.k, self.max_batch, self.max_wait = predictor, k, max_batch, max_wait
        self.batch_sizes: list[int] = []  # of every pass, for a look at how well requests batch
        self._queue: queue.Queue = queue.Queue()
        self._announced = 0  # requests arrived and not yet answered (or withdrawn)
        self._count = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="fastlearn-predict", daemon=True)
        self._thread.start()

    def announce(self) -> None:
        """A request has arrived and will `submit` (or `withdraw`) once its image is decoded."""
        with self._count:
            self._announced += 1

    def withdraw(self) -> None:
        """An announced request will not submit after all (its upload was not an image)."""
        self._done(1)

    def _done(self, n: int) -> None:
        with self._count:
            self._announced = max(0, self._announced - n)

    def submit(self, pixels: np.ndarray) -> Future:
        """Queue one image, as `Predictor.pixels` makes it; the Future gives its Prediction.
        Announce it first, for it to be batched with others arriving at the same time."""
        future: Future = Future()
        self._queue.put((pixels, future))
        return future

    def close(self) -> None:
        """Finish the queued work and stop the worker thread."""
        self._queue.put(None)
        self._thread.join()

    def _collect(self) -> list | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if self._announced <= len(batch) or remaining <= 0:
                    break  # nothing more is on its way, or it is late: go with what is here
                try:
                    item = self._queue.get(timeout=min(remaining, 0.001))
                except queue.Empty:
                    continue
            if item is None:
                self._queue.put(None)  # stop after this batch
                break
            batch.append(item)
        return batch

    def _run(self) -> None:
        import torch

        from fastlearn.train.learner import for_evaluation
        with torch.no_grad(), for_evaluation(self.predictor.model) as model:  # e.g. folded once for the server's life
            while (batch := self._collect()) is not None:
                self.batch_sizes.append(len(batch))
                try:
                    results = self.predictor.predict_pixels(np.stack([p for p, _ in batch]), self.k, model)
                except BaseException as e:  # every waiting request hears of it; the worker goes on
                    self._done(len(batch))
                    for _, future in batch:
                        future.set_exception(e)
                    continue
                self._done(len(batch))
                for (_, future), result in zip(batch, results):
                    future.set_result(result)
