"""Corpus annotation: captions JSON Lines -> DSGs JSON Lines, concurrent and resumable.

Input: one caption per line, either a JSON object with an id and a text field (``{"id": "v1", "caption":
"..."}``; the text may also be under ``text``, ``prompt`` or ``sentence``) or a bare JSON string (its id is
its line number). Output: one DSG per line, ``{"id": ..., **dsg.dsg_to_dict(dsg)}``, written and flushed as
soon as it is planned, in completion order.

Resuming: captions whose id is already in the output are skipped (so an interrupted run loses nothing it
finished and a re-run costs nothing); a truncated last line left by a crash is cut off first. With
``retry_degraded=True`` captions whose DSG records a degradation (a fallback after a model failure) are
planned again and the output is compacted to the newest line per id. A caption whose planning raises is
reported in the summary and not written, so the next run retries it.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsg import DynamicSceneGraph, Planner
from dsg.io_json import dsg_to_dict

from .chat.sync import run_sync
from .errors import DysenInputError

__all__ = ["AnnotationSummary", "annotate", "read_annotations", "read_captions"]

TEXT_FIELDS = ("caption", "text", "prompt", "sentence")


@dataclass
class AnnotationSummary:
    """What one :func:`annotate` run did."""

    total: int = 0
    skipped: int = 0
    planned: int = 0
    degraded: int = 0
    failed: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    truncated_line_removed: bool = False
    elapsed_s: float = 0.0
    usage: dict[str, Any] | None = None

    def __str__(self) -> str:
        lines = [
            f"captions: {self.total}  already done: {self.skipped}  planned now: {self.planned}  "
            f"degraded: {self.degraded}  failed: {self.failed}  time: {self.elapsed_s:.1f} s",
        ]
        if self.usage is not None:
            u = self.usage
            lines.append(
                f"model calls: {u.get('calls', 0)}  cache hits: {u.get('cache_hits', 0)}  tokens: "
                f"{u.get('prompt_tokens', 0)} in + {u.get('completion_tokens', 0)} out  "
                f"cost: ${u.get('cost_usd', 0.0):.4f}" + ("  (some calls unpriced)" if u.get("unpriced_calls") else "")
            )
        for ident, reason in list(self.failures.items())[:10]:
            lines.append(f"  failed {ident}: {reason}")
        return "\n".join(lines)


def read_captions(
    path: str | Path, *, id_field: str = "id", text_fields: Iterable[str] = TEXT_FIELDS
) -> list[tuple[str, str]]:
    """``[(id, text), ...]`` from a captions JSON Lines file (see the module docstring)."""
    fields = tuple(text_fields)
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DysenInputError("captions", str(path), f"cannot be read: {exc}") from exc
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DysenInputError(f"{path}:{lineno}", line[:80], f"not valid JSON ({exc.msg})") from exc
        if isinstance(row, str):
            ident, text = str(lineno), row
        elif isinstance(row, dict):
            text = next((row[f] for f in fields if isinstance(row.get(f), str)), None)
            if text is None:
                raise DysenInputError(f"{path}:{lineno}", row, f"needs a string field, one of {fields}")
            ident = str(row.get(id_field, lineno))
        else:
            raise DysenInputError(f"{path}:{lineno}", row, "must be a JSON object or a JSON string")
        if ident in seen:
            raise DysenInputError(f"{path}:{lineno}", ident, "duplicate id")
        seen.add(ident)
        out.append((ident, text))
    return out


def _cut_truncated_tail(path: Path) -> bool:
    """Remove a last line without its newline (an interrupted write); True if something was cut."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    with path.open("rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return False
        data = path.read_bytes()
        keep = data.rfind(b"\n") + 1
        fh.truncate(keep)
    return True


def read_annotations(path: str | Path) -> dict[str, dict[str, Any]]:
    """The newest record per id of an annotation file (lines that are not JSON objects with an id are skipped)."""
    out: dict[str, dict[str, Any]] = {}
    p = Path(path)
    if not p.exists():
        return out
    with p.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and "id" in row:
                out[str(row["id"])] = row
    return out


def _compact(path: Path) -> None:
    latest = read_annotations(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in latest.values():
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _is_degraded(row: dict[str, Any]) -> bool:
    return bool((row.get("provenance") or {}).get("degraded"))


def annotate(
    captions_jsonl: str | Path,
    out_jsonl: str | Path,
    planner: Planner,
    *,
    concurrency: int = 8,
    retry_degraded: bool = False,
    progress: bool = True,
    limit: int | None = None,
    id_field: str = "id",
) -> AnnotationSummary:
    """Plan every caption of ``captions_jsonl`` into ``out_jsonl`` (see the module docstring).

    Planners with an async ``aplan`` (:class:`~dysen.LLMPlanner`) run ``concurrency`` captions at once;
    others run in a worker thread, in batches through ``plan_many`` when they have it (the rule-based
    planner parses batches with ``nlp.pipe``).
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise DysenInputError("concurrency", concurrency, "must be an integer >= 1")
    t0 = time.perf_counter()
    out = Path(out_jsonl)
    out.parent.mkdir(parents=True, exist_ok=True)
    items = read_captions(captions_jsonl, id_field=id_field)
    if limit is not None:
        items = items[:limit]
    summary = AnnotationSummary(total=len(items))
    summary.truncated_line_removed = _cut_truncated_tail(out)
    done = read_annotations(out)
    todo = [(i, t) for i, t in items if i not in done or (retry_degraded and _is_degraded(done[i]))]
    summary.skipped = len(items) - len(todo)
    meter = getattr(planner, "meter", None)
    before = meter.snapshot() if meter is not None else None
    bar = _progress(len(todo), progress)
    with out.open("a", encoding="utf-8") as fh:

        def write(ident: str, d: DynamicSceneGraph) -> None:
            fh.write(json.dumps({"id": ident, **dsg_to_dict(d)}, ensure_ascii=False) + "\n")
            fh.flush()
            summary.planned += 1
            summary.degraded += int(d.provenance.is_degraded)
            bar.update(1)

        def fail(ident: str, exc: BaseException) -> None:
            summary.failed += 1
            summary.failures[ident] = f"{type(exc).__name__}: {str(exc)[:200]}"
            bar.update(1)

        if hasattr(planner, "aplan"):
            run_sync(_run_async(planner, todo, concurrency, write, fail), close=planner)
        else:
            _run_sync(planner, todo, write, fail)
        fh.flush()
        os.fsync(fh.fileno())
    bar.close()
    if retry_degraded and any(i in done for i, _ in todo):
        _compact(out)
    if meter is not None and before is not None:
        after = meter.snapshot()
        summary.usage = {
            k: (after[k] - before[k]) if isinstance(after[k], int | float) else after[k]  # type: ignore[operator]
            for k in after
        }
    summary.elapsed_s = time.perf_counter() - t0
    return summary


async def _run_async(planner: Any, todo: list[tuple[str, str]], concurrency: int, write: Any, fail: Any) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def one(ident: str, text: str) -> None:
        async with sem:
            try:
                d = await planner.aplan(text)
            except Exception as exc:  # one bad caption must not stop a corpus run; it is reported
                fail(ident, exc)
                return
        write(ident, d)

    await asyncio.gather(*(one(i, t) for i, t in todo))


def _run_sync(planner: Any, todo: list[tuple[str, str]], write: Any, fail: Any, batch: int = 64) -> None:
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        if hasattr(planner, "plan_many"):
            try:
                results = list(planner.plan_many([t for _, t in chunk]))
            except Exception:
                results = None  # fall back to one by one to isolate the bad caption
            if results is not None:
                for (ident, _), d in zip(chunk, results):
                    write(ident, d)
                continue
        for ident, text in chunk:
            try:
                d = planner.plan(text)
            except Exception as exc:  # reported, not written: the next run retries it
                fail(ident, exc)
                continue
            write(ident, d)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="caption", desc="annotate", dynamic_ncols=True)
