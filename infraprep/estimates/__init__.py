"""Every formula the lessons use, as pure functions with units and sources.

Lessons call these; they never retype a formula. Grouped by topic:
``compute`` (FLOPs, MFU, roofline), ``memory`` (weights, ZeRO, KV cache),
``communication`` (AllReduce, busbw, transfers), ``parallelism`` (pipeline
bubble), ``reliability`` (checkpoint interval), ``cost`` (cloud prices) and
``storage``/``network`` (throughput, fat trees) and ``inference`` (prefill, decode,
KV capacity, queues, speculative decoding, serving cost) and ``design`` (power and PUE,
failures and goodput at scale, sharded checkpoints, three-tier fabrics, layouts, the binding constraint).
"""

from .communication import *  # noqa: F401,F403
from .compute import *  # noqa: F401,F403
from .cost import *  # noqa: F401,F403
from .memory import *  # noqa: F401,F403
from .parallelism import *  # noqa: F401,F403
from .reliability import *  # noqa: F401,F403
from .storage import *  # noqa: F401,F403
from .network import *  # noqa: F401,F403
from .inference import *  # noqa: F401,F403
from .design import *  # noqa: F401,F403
