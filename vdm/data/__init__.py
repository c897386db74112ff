"""Video-text datasets: WebVid, MSR-VTT, UCF-101, ActivityNet Captions and a plain folder of videos
(:class:`VideoFolder`), decoded with PyAV the way the paper samples clips (16 keyframes from 2 seconds,
256×256), with optional precomputed DSGs.

Every dataset is a :class:`torch.utils.data.Dataset` of dicts (``video`` ``(F, 3, S, S)`` uint8,
``caption``, ``captions``, ``key``, ``path``, ``dsg`` and dataset fields); batch them with
:func:`collate_samples`. Missing or corrupt files raise :class:`VideoDecodeError` naming the file, or
with ``on_error="skip"`` are recorded and replaced by the next readable sample.
"""

from .activitynet import ActivityNetCaptions, ActivityNetParagraph, read_activitynet_captions
from .base import VideoRecord, VideoTextDataset
from .clips import ClipSampling, read_clip
from .collate import collate_samples
from .dsg_index import DSGIndex
from .errors import AnnotationError, DataError, VideoDecodeError
from .folder import VideoFolder, read_video_folder
from .msrvtt import MSRVTT, read_msrvtt
from .ucf101 import UCF101, class_to_caption, read_ucf101
from .webvid import WebVid, read_webvid_csv

__all__ = [
    "MSRVTT",
    "UCF101",
    "ActivityNetCaptions",
    "ActivityNetParagraph",
    "AnnotationError",
    "ClipSampling",
    "DSGIndex",
    "DataError",
    "VideoDecodeError",
    "VideoFolder",
    "VideoRecord",
    "VideoTextDataset",
    "WebVid",
    "class_to_caption",
    "collate_samples",
    "read_activitynet_captions",
    "read_clip",
    "read_msrvtt",
    "read_ucf101",
    "read_video_folder",
    "read_webvid_csv",
]
