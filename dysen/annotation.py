"""Corpus annotation: captions JSON Lines -> DSGs JSON Lines, concurrent and resumable.

Input: one caption per line, either a JSON object with an id and a text field (``{"id": "v1", "caption":
"..."}``; the text may also be under ``text``, ``prompt`` or ``sentence``) or a bare JSON string (its id is
its line number). Output: one DSG per line, ``{"id": ..., **dsg.dsg_to_dict(dsg)}``, written and flushed as
soon as it is planned, in completion order.

Resuming: captions whose id is already in the output are skipped (so an interrupted run loses nothing it
finished and a re-run costs nothing). Before resuming, the output is checked to be a file annotate wrote:
every line must be a DSG row (a JSON object with an ``id`` and ``"schema": "dsg/..."``), otherwise nothing
is touched and :class:`~dysen.errors.DysenInputError` names the first foreign line; the output may not be
the captions file itself. A last line left half-written by a crash (no newline *and* not valid JSON) is cut
off; a complete last line that only lacks its newline is kept. With ``retry_degraded=True`` captions whose
DSG records a degradation (a fallback after a model failure) are planned again and the output is compacted
to the newest line per id; a run killed before that compaction leaves two lines for some ids, and the next
run of any kind compacts them first. A caption whose planning raises is reported in the summary (its error
text redacted) and not written, so the next run retries it.
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
from .errors import DysenInputError, redact_secrets

__all__ = [
    "AnnotationSummary",
    "MergeSummary",
    "annotate",
    "merge_shards",
    "parse_shard",
    "read_annotations",
    "read_captions",
    "shard_path",
]

TEXT_FIELDS = ("caption", "text", "prompt", "sentence")


@dataclass
class AnnotationSummary:
    """What one :func:`annotate` run did."""

    total: int = 0
    skipped: int = 0
    planned: int = 0
    degraded: int = 0
    fell_back: int = 0  # DSGs whose Step I fell back to the offline planner (the model was not usable)
    failed: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    truncated_line_removed: bool = False
    elapsed_s: float = 0.0
    usage: dict[str, Any] | None = None

    def __str__(self) -> str:
        lines = [
            f"captions: {self.total}  already done: {self.skipped}  planned now: {self.planned}  "
            f"degraded: {self.degraded}  fell back: {self.fell_back}  failed: {self.failed}  "
            f"time: {self.elapsed_s:.1f} s",
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


def _is_row(row: object) -> bool:
    return isinstance(row, dict) and "id" in row and str(row.get("schema", "")).startswith("dsg/")


def _check_output(path: Path) -> tuple[bool, bool]:
    """Check that ``path`` is an annotation file before resuming into it; repair a half-written last line.

    Returns ``(truncated_line_removed, has_duplicate_ids)``. Raises :class:`DysenInputError` (and changes
    nothing) if a line is not a DSG row, except a last line without newline that is not valid JSON (an
    interrupted write), which is cut off."""
    if not path.exists() or path.stat().st_size == 0:
        return False, False
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    seen: set[str] = set()
    dup = False
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            row = None
        if not _is_row(row):
            raise DysenInputError(
                "output",
                str(path),
                f"line {lineno} is not a DSG row written by annotate; refusing to resume into (and change) it",
            )
        ident = str(row["id"])  # type: ignore[index]
        dup = dup or ident in seen
        seen.add(ident)
    if not tail.strip():
        return False, dup
    try:
        row = json.loads(tail)
    except (json.JSONDecodeError, UnicodeDecodeError):
        with path.open("rb+") as fh:  # a write cut short by a crash
            fh.truncate(len(data) - len(tail))
        return True, dup
    if not _is_row(row):
        raise DysenInputError(
            "output", str(path), f"line {len(lines) + 1} is not a DSG row written by annotate; refusing to resume"
        )
    with path.open("ab") as fh:  # a complete row that only lacks its newline
        fh.write(b"\n")
    return False, dup or str(row["id"]) in seen


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


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
        fh.flush()
        os.fsync(fh.fileno())
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
    shard: tuple[int, int] | None = None,
) -> AnnotationSummary:
    """Plan every caption of ``captions_jsonl`` into ``out_jsonl`` (see the module docstring).

    ``shard=(i, n)`` plans only captions ``i, i+n, i+2n, ...`` (0-based line order, after ``limit``): run
    ``n`` of these, on as many machines or model servers, into :func:`shard_path` files, then
    :func:`merge_shards`.

    Planners with an async ``aplan`` (:class:`~dysen.LLMPlanner`) run ``concurrency`` captions at once;
    others run in a worker thread, in batches through ``plan_many`` when they have it (the rule-based
    planner parses batches with ``nlp.pipe``).
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise DysenInputError("concurrency", concurrency, "must be an integer >= 1")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DysenInputError("limit", limit, "must be an integer >= 1 (or None for all captions)")
    t0 = time.perf_counter()
    out = Path(out_jsonl)
    if _same_file(Path(captions_jsonl), out):
        raise DysenInputError("output", str(out), "is the captions file; give another output path")
    if out.is_dir():
        raise DysenInputError("output", str(out), "is a directory; give a .jsonl file path")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DysenInputError("output", str(out), f"its folder cannot be created: {exc.strerror or exc}") from exc
    items = read_captions(captions_jsonl, id_field=id_field)
    if limit is not None:
        items = items[:limit]
    if shard is not None:
        i, n = _check_shard(shard)
        items = items[i::n]
    summary = AnnotationSummary(total=len(items))
    summary.truncated_line_removed, duplicates = _check_output(out)
    if duplicates:  # a --retry-degraded run was killed before its compaction
        _compact(out)
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
            summary.fell_back += int(any(step.startswith("plan(fallback") for step in d.provenance.steps))
            bar.update(1)

        def fail(ident: str, exc: BaseException) -> None:
            summary.failed += 1
            summary.failures[ident] = redact_secrets(f"{type(exc).__name__}: {str(exc)[:200]}")
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


def _check_shard(shard: tuple[int, int]) -> tuple[int, int]:
    try:
        i, n = (int(v) for v in shard)
    except (TypeError, ValueError):
        raise DysenInputError("shard", shard, "must be a pair (i, n) of integers") from None
    if n < 1 or not 0 <= i < n:
        raise DysenInputError("shard", f"{i}/{n}", "needs n >= 1 and 0 <= i < n")
    return i, n


def parse_shard(text: str) -> tuple[int, int]:
    """``"3/8"`` -> ``(3, 8)``: shard 3 (0-based) of 8."""
    i, sep, n = str(text).partition("/")
    if not sep or not i.strip().isdigit() or not n.strip().isdigit():
        raise DysenInputError("shard", text, "must be I/N, e.g. 0/8 (shard I of N, 0-based)")
    return _check_shard((int(i), int(n)))


def shard_path(out_jsonl: str | Path, i: int, n: int) -> Path:
    """Where shard ``i`` of ``n`` of ``out_jsonl`` goes: ``dsgs.jsonl`` -> ``dsgs.shard-00003-of-00008.jsonl``."""
    out = Path(out_jsonl)
    return out.with_name(f"{out.stem}.shard-{i:05d}-of-{n:05d}{out.suffix or '.jsonl'}")


@dataclass
class MergeSummary:
    """What :func:`merge_shards` did."""

    shards: int = 0
    written: int = 0
    missing: list[str] = field(default_factory=list)
    extra: int = 0

    def __str__(self) -> str:
        text = f"merged {self.shards} shard(s): {self.written} DSGs written, {len(self.missing)} captions missing"
        if self.extra:
            text += f", {self.extra} rows of ids not in the captions file dropped"
        if self.missing:
            text += f" (first: {', '.join(self.missing[:5])}; re-run their shards, then merge again)"
        return text


def merge_shards(
    captions_jsonl: str | Path, out_jsonl: str | Path, *, id_field: str = "id", allow_missing: bool = False
) -> MergeSummary:
    """Merge the :func:`shard_path` files of ``out_jsonl`` into ``out_jsonl``, in the captions' order, the newest
    row per id. Every shard ``0..n-1`` must be there; captions no shard holds are listed in the summary
    and, unless ``allow_missing``, make it raise :class:`DysenInputError` with nothing written. The output
    is replaced atomically, and re-running the merge is harmless."""
    out = Path(out_jsonl)
    found = sorted(out.parent.glob(f"{out.stem}.shard-*-of-*{out.suffix or '.jsonl'}"))
    if not found:
        pattern = f"{out.stem}.shard-*-of-*{out.suffix or '.jsonl'}"
        raise DysenInputError("merge", str(out), f"no shard files {pattern} next to it (run annotate --shard I/N)")
    counts = {p.name.rsplit("-of-", 1)[1].split(".")[0] for p in found}
    if len(counts) != 1:
        raise DysenInputError("merge", str(out), f"shard files of different shard counts: {sorted(counts)}")
    n = int(counts.pop())
    want = {shard_path(out, i, n).name for i in range(n)}
    absent = sorted(want - {p.name for p in found})
    if absent:
        raise DysenInputError("merge", str(out), f"{len(absent)} of {n} shards are missing: {absent[:5]}")
    rows: dict[str, dict[str, Any]] = {}
    for p in found:
        _check_output(p)
        rows.update(read_annotations(p))
    items = read_captions(captions_jsonl, id_field=id_field)
    summary = MergeSummary(shards=n)
    summary.missing = [i for i, _ in items if i not in rows]
    if summary.missing and not allow_missing:
        raise DysenInputError("merge", str(out), str(summary))
    ids = {i for i, _ in items}
    summary.extra = sum(1 for k in rows if k not in ids)
    tmp = out.with_name(out.name + ".merge.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for ident, _ in items:
            if ident in rows:
                fh.write(json.dumps(rows[ident], ensure_ascii=False) + "\n")
                summary.written += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out)
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
