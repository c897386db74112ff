"""Command-line hooks of :mod:`dysen`.

The project CLI adds these as subcommands (``dysen-vdm annotate ...``)::

    from dysen import cli
    cli.add_annotate_arguments(subparsers.add_parser("annotate"))       # then cli.run_annotate(args)
    cli.add_train_selector_arguments(subparsers.add_parser("train-selector"))
    cli.add_eval_selector_arguments(subparsers.add_parser("eval-selector"))

They also run on their own: ``python -m dysen annotate captions.jsonl dsgs.jsonl --planner llm --model
gpt-4o-mini --cache .dysen-cache.sqlite``. API keys are read from an environment variable
(``--api-key-env``, default ``OPENAI_API_KEY``), never from the command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dsg.argtypes import non_negative_float, non_negative_int, positive_float, positive_int

from .errors import ConfigurationError, DysenError, DysenInputError, redact_secrets

__all__ = [
    "add_annotate_arguments",
    "add_eval_selector_arguments",
    "add_planner_arguments",
    "add_train_selector_arguments",
    "build_chat",
    "build_planner",
    "main",
    "run_annotate",
    "run_eval_selector",
    "run_train_selector",
]


# -- shared planner/backend options ------------------------------------------------------------------------
def add_planner_arguments(parser: argparse.ArgumentParser, *, default_planner: str = "rule") -> None:
    """Options that choose and configure a planner and its chat backend."""
    g = parser.add_argument_group("planner")
    g.add_argument("--planner", choices=("rule", "llm"), default=default_planner, help="offline rules or an LLM")
    g.add_argument("--substeps", type=positive_int, default=1, help="rule planner: frames per step of v")
    g.add_argument("--no-imagination", action="store_true", help="Steps I-II only (ablation)")
    g.add_argument(
        "--overlap",
        nargs="?",
        const="default",
        metavar="MODEL_JSON",
        help="rule planner: let sentences overlap in time where no word says so (narrated paragraphs such as "
        "ActivityNet's), with the shipped overlap model or a MODEL_JSON from fig9_calibrate_overlap.py",
    )
    g.add_argument("--no-sliding-window", action="store_true", help="enrich segments independently (ablation)")
    g.add_argument("--no-polish", action="store_true", help="skip the global polish (ablation)")
    g.add_argument("--demos", type=Path, help="demonstration pool JSONL (default: the shipped pool)")
    g.add_argument("--selector", choices=("random", "nearest", "policy"), default="random")
    g.add_argument("--policy", type=Path, help="trained selection policy (.safetensors) for --selector policy")
    g.add_argument("--encoder", type=Path, help="transformers text encoder folder (default: all-MiniLM-L6-v2)")
    g.add_argument("--num-demos", type=non_negative_int, default=5, help="demonstrations in the Step I prompt (D)")
    g.add_argument(
        "--num-context-demos", type=non_negative_int, default=2, help="demonstrations in the Step III prompts"
    )
    g.add_argument("--temperature", type=non_negative_float, default=0.0)
    g.add_argument("--seed", type=int, default=None)
    b = parser.add_argument_group("chat backend (for --planner llm)")
    b.add_argument("--backend", choices=("openai", "transformers"), default="openai")
    b.add_argument("--model", default="gpt-4o-mini", help="model name on the OpenAI-compatible server")
    b.add_argument("--base-url", default=None, help="server URL ending in /v1 (default $OPENAI_BASE_URL or OpenAI)")
    b.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    b.add_argument("--model-path", type=Path, help="--backend transformers: a causal LM folder")
    b.add_argument("--device", default="cpu", help="--backend transformers: torch device")
    b.add_argument("--timeout", type=positive_float, default=60.0, help="seconds per HTTP attempt")
    b.add_argument("--max-retries", type=non_negative_int, default=3, help="client retries on 429/5xx/timeouts")
    b.add_argument("--max-concurrency", type=positive_int, default=16, help="requests in flight to the server")
    b.add_argument(
        "--deadline",
        type=positive_float,
        default=300.0,
        help="seconds all model calls of one caption may take, retries included (default 300)",
    )
    b.add_argument("--structured-output", choices=("auto", "on", "off"), default="auto")
    b.add_argument("--cache", type=Path, help="SQLite response cache (re-runs cost nothing)")
    b.add_argument("--cassette", type=Path, help="record/replay cassette JSONL")
    b.add_argument("--cassette-mode", choices=("record", "replay", "auto"), default="auto")


def build_chat(args: argparse.Namespace) -> Any:
    """The chat model described by :func:`add_planner_arguments` options."""
    from .chat import CachedChatModel, CassetteChatModel, OpenAIChatModel, TransformersChatModel

    inner: Any = None
    if not (args.cassette is not None and args.cassette_mode == "replay"):
        if args.backend == "transformers":
            if args.model_path is None:
                raise ConfigurationError("--backend transformers needs --model-path")
            inner = TransformersChatModel(args.model_path, device=args.device)
        else:
            structured = {"auto": "auto", "on": True, "off": False}[args.structured_output]
            inner = OpenAIChatModel(
                args.model,
                base_url=args.base_url,
                api_key_env=args.api_key_env,
                timeout=args.timeout,
                max_retries=args.max_retries,
                max_concurrency=args.max_concurrency,
                structured_output=structured,
            )
    chat: Any = inner
    if args.cassette is not None:
        chat = CassetteChatModel(args.cassette, inner, mode=args.cassette_mode)
    if args.cache is not None:
        chat = CachedChatModel(chat, args.cache)
    return chat


def _selector(args: argparse.Namespace, pool: Any) -> Any:
    from .selection import NearestNeighbourSelector, RandomSelector, TextEncoder

    if args.selector == "random":
        return RandomSelector(pool, seed=args.seed or 0)
    encoder = TextEncoder(args.encoder)
    if args.selector == "nearest":
        return NearestNeighbourSelector(pool, encoder)
    from .selection.policy import PolicySelector, load_policy

    if args.policy is None:
        raise ConfigurationError("--selector policy needs --policy PATH (train one with train-selector)")
    policy, _ = load_policy(args.policy)
    return PolicySelector(pool, policy, encoder)


def build_planner(args: argparse.Namespace) -> Any:
    """The planner described by :func:`add_planner_arguments` options."""
    if args.planner == "rule":
        from .rule_based.planner import RuleBasedPlanner

        overlap = None
        if getattr(args, "overlap", None) is not None:
            from .rule_based.overlap import OverlapModel

            overlap = OverlapModel.default() if args.overlap == "default" else OverlapModel.load(args.overlap)
        return RuleBasedPlanner(imagine=not args.no_imagination, substeps=args.substeps, overlap=overlap)
    from .demos import default_pool, load_pool
    from .llm.planner import LLMPlanner

    pool = load_pool(args.demos) if args.demos is not None else default_pool()
    return LLMPlanner(
        build_chat(args),
        pool=pool,
        selector=_selector(args, pool),
        num_demos=args.num_demos,
        num_context_demos=args.num_context_demos,
        imagination=not args.no_imagination,
        sliding_window=not args.no_sliding_window,
        polish=not args.no_polish,
        temperature=args.temperature,
        seed=args.seed,
        deadline=getattr(args, "deadline", 300.0),
    )


# -- annotate ----------------------------------------------------------------------------------------------
def add_annotate_arguments(parser: argparse.ArgumentParser) -> None:
    """``annotate CAPTIONS.jsonl OUT.jsonl [options]``."""
    parser.add_argument("captions", type=Path, help="captions JSONL ({'id', 'caption'} objects or strings)")
    parser.add_argument("output", type=Path, help="DSGs JSONL (appended to; existing ids are skipped)")
    parser.add_argument("--concurrency", type=positive_int, default=8, help="captions planned at once (LLM planner)")
    parser.add_argument("--retry-degraded", action="store_true", help="plan again captions that fell back")
    parser.add_argument("--limit", type=positive_int, default=None, help="only the first N captions")
    parser.add_argument("--id-field", default="id")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="plan only captions I, I+N, I+2N, ... (0-based) into OUT.shard-I-of-N.jsonl; run N of these on as "
        "many machines or model servers, then --merge",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="merge OUT.shard-*-of-N.jsonl into OUT in the captions' order (no planning); fails, writing nothing, "
        "if a shard or a caption is missing",
    )
    add_planner_arguments(parser)


def run_annotate(args: argparse.Namespace) -> int:
    """Run ``annotate``; prints the summary (with cost) and returns an exit code.

    Exit status: 0 when done; 1 when a caption failed (it is not written; a re-run retries it) or when every
    caption planned in this run fell back to the offline planner (the model was never usable: check the
    server, key and model name; the rows are written and ``--retry-degraded`` plans them again); 2 for
    bad input (a message names it)."""
    from .annotation import annotate, merge_shards, parse_shard, shard_path

    if getattr(args, "merge", False):
        if getattr(args, "shard", None):
            raise DysenInputError("--merge", "--shard", "merge takes no --shard (it reads every shard file)")
        merged = merge_shards(args.captions, args.output, id_field=args.id_field)
        print(merged)
        return 0
    output = args.output
    shard = None
    if getattr(args, "shard", None):
        shard = parse_shard(args.shard)
        output = shard_path(args.output, *shard)
    summary = annotate(
        args.captions,
        output,
        build_planner(args),
        concurrency=args.concurrency,
        retry_degraded=args.retry_degraded,
        progress=not args.no_progress,
        limit=args.limit,
        id_field=args.id_field,
        shard=shard,
    )
    if shard is not None:
        print(f"shard {shard[0]}/{shard[1]} -> {output}")
    print(summary)
    if summary.planned and summary.fell_back == summary.planned:
        print(
            f"error: every caption planned now ({summary.planned}) fell back to the offline planner; "
            "the model was not usable (see the degraded notes in the output)",
            file=sys.stderr,
        )
        return 1
    return 1 if summary.failed else 0


# -- selection policy ----------------------------------------------------------------------------------------
def _gold_arguments(parser: argparse.ArgumentParser, default_split: str) -> None:
    parser.add_argument("--gold", type=Path, help="labelled captions JSONL (default: the shipped labelled set)")
    parser.add_argument("--split", default=default_split, help="split of the labelled set: dev, test or all")
    parser.add_argument("--concurrency", type=positive_int, default=8)


def _examples(args: argparse.Namespace) -> list[Any]:
    from .evaluation import load_planner_gold
    from .selection.policy import TrainingExample

    gold = load_planner_gold(args.gold, split=None if args.split == "all" else args.split)
    if not gold:
        raise ConfigurationError(f"no labelled captions in split {args.split!r}")
    return [TrainingExample(g.caption, g.schedule) for g in gold]


def add_train_selector_arguments(parser: argparse.ArgumentParser) -> None:
    """``train-selector --out policy.safetensors [options]``: REINFORCE over the labelled captions."""
    parser.add_argument("--out", type=Path, required=True, help="where to write the policy (.safetensors)")
    parser.add_argument("--epochs", type=positive_int, default=3)
    parser.add_argument("--batch-size", type=positive_int, default=8)
    parser.add_argument("--lr", type=positive_float, default=1e-3)
    parser.add_argument("--candidates", type=positive_int, default=20, help="candidate demonstrations per step")
    parser.add_argument("--hidden", type=positive_int, default=128)
    parser.add_argument("--full-plan", action="store_true", help="reward Steps I-III (many more calls)")
    _gold_arguments(parser, "dev")
    add_planner_arguments(parser, default_planner="llm")


def run_train_selector(args: argparse.Namespace) -> int:
    from .selection import TextEncoder
    from .selection.policy import save_policy, train_policy

    planner = build_planner(argparse.Namespace(**{**vars(args), "planner": "llm", "selector": "random"}))
    encoder = TextEncoder(args.encoder)
    result = train_policy(
        planner,
        _examples(args),
        encoder=encoder,
        num_candidates=args.candidates,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        hidden=args.hidden,
        seed=args.seed or 0,
        concurrency=args.concurrency,
        full_plan=args.full_plan,
        log=lambda row: print(json.dumps(row)),
    )
    save_policy(result.policy, args.out, encoder=encoder.name, pool=planner.pool, k=planner.num_demos)
    print(f"policy written to {args.out}; {planner.meter.summary()}")
    return 0


def add_eval_selector_arguments(parser: argparse.ArgumentParser) -> None:
    """``eval-selector --selector policy --policy P [options]``: Step I accuracy with a selector."""
    _gold_arguments(parser, "test")
    add_planner_arguments(parser, default_planner="llm")


def run_eval_selector(args: argparse.Namespace) -> int:
    from .selection.policy import evaluate_selector

    planner = build_planner(argparse.Namespace(**{**vars(args), "planner": "llm"}))
    scores = evaluate_selector(planner, planner.selector, _examples(args), concurrency=args.concurrency)
    print(json.dumps({"selector": args.selector, **scores}))
    print(planner.meter.summary())
    return 0


# -- standalone entry point -------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dysen", description="Dysen planners: annotate corpora, train selectors"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_annotate_arguments(sub.add_parser("annotate", help="captions JSONL -> DSGs JSONL"))
    add_train_selector_arguments(sub.add_parser("train-selector", help="train the demonstration policy"))
    add_eval_selector_arguments(sub.add_parser("eval-selector", help="Step I accuracy with a selector"))
    args = parser.parse_args(argv)
    run = {"annotate": run_annotate, "train-selector": run_train_selector, "eval-selector": run_eval_selector}
    try:
        return run[args.command](args)
    except (DysenError, OSError) as exc:
        print(f"error: {redact_secrets(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
