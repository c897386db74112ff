"""dsg — typed dynamic scene graphs (DSGs): data model, Step II conversion, batching, I/O, metrics.

The centre of dysen-vdm: planners (:mod:`dysen`) produce DSGs, encoders (:mod:`rgtrm`) consume them,
and graph researchers use it on its own. It depends on nothing else of this project, and imports only
numpy and torch eagerly (torch_geometric, networkx, matplotlib, spaCy and hypothesis on use). Every error it
raises is a :class:`DSGError`; the resource limits on untrusted input live in :mod:`dsg.limits`.
"""

from .batching import EncodedDSG, FrameInstanceBatch, collate, decode, encode
from .convert import align, align_schedule, dsg_to_schedule, frame_map, schedule_to_dsg
from .dynamic import DynamicSceneGraph, Provenance, Segment, Triplet
from .errors import DSGError, DSGLimitError, DSGValidationError, EmptyScheduleError, SchemaError, VocabularyError
from .graph import Entity, Relation, SceneGraph
from .io_json import (
    dsg_from_dict,
    dsg_to_dict,
    from_json,
    load_json,
    read_jsonl,
    save_json,
    to_json,
    write_jsonl,
)
from .labels import label_key, normalize_label, set_lemmatizer
from .metrics import (
    PRF,
    EventOrder,
    PlanningAccuracy,
    SceneStatistics,
    event_order,
    interval_iou,
    match_events,
    planning_accuracy,
    scene_statistics,
    triplet_prf,
    trirec,
    trirec_per_frame,
)
from .protocols import Planner, VisualParser
from .schedule import Event, EventSchedule
from .vocab import DSGVocab, Vocabulary

__version__ = "0.1.0"


def __getattr__(name: str):  # lazy: PyG / networkx / matplotlib / Action Genome only when asked for
    lazy = {
        "to_networkx": "io_networkx",
        "from_networkx": "io_networkx",
        "frame_to_networkx": "io_networkx",
        "to_time_expanded": "io_networkx",
        "draw_timeline": "draw",
        "from_action_genome": "action_genome",
        "load_action_genome_json": "action_genome",
        "DSGTemporalData": "temporal",
        "collate_temporal": "temporal",
        "from_temporal_data": "temporal",
        "to_temporal_data": "temporal",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(f".{lazy[name]}", __name__), name)
    raise AttributeError(f"module 'dsg' has no attribute {name!r}")


__all__ = [
    "PRF",
    "DSGError",
    "DSGLimitError",
    "DSGTemporalData",
    "DSGValidationError",
    "DSGVocab",
    "DynamicSceneGraph",
    "EmptyScheduleError",
    "EncodedDSG",
    "Entity",
    "Event",
    "EventOrder",
    "EventSchedule",
    "FrameInstanceBatch",
    "Planner",
    "PlanningAccuracy",
    "Provenance",
    "Relation",
    "SceneGraph",
    "SceneStatistics",
    "SchemaError",
    "Segment",
    "Triplet",
    "VisualParser",
    "Vocabulary",
    "VocabularyError",
    "align",
    "align_schedule",
    "collate",
    "collate_temporal",
    "decode",
    "draw_timeline",
    "dsg_from_dict",
    "dsg_to_dict",
    "dsg_to_schedule",
    "encode",
    "event_order",
    "frame_map",
    "frame_to_networkx",
    "from_action_genome",
    "from_json",
    "from_networkx",
    "from_temporal_data",
    "interval_iou",
    "label_key",
    "load_action_genome_json",
    "load_json",
    "match_events",
    "normalize_label",
    "planning_accuracy",
    "read_jsonl",
    "save_json",
    "scene_statistics",
    "schedule_to_dsg",
    "set_lemmatizer",
    "to_json",
    "to_networkx",
    "to_temporal_data",
    "to_time_expanded",
    "triplet_prf",
    "trirec",
    "trirec_per_frame",
    "write_jsonl",
]
