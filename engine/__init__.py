"""The live service: gRPC servicers, the state store (in-memory, Redis), auth, settings.

To come (see ARCHITECTURE.md). Imports ``routing`` and ``matching``, never ``sim``. The
command line lives in the ``mobility`` package because it must reach every room.
"""

# Here, not in engine.settings, so that the command line reads them without importing the engine.
#: Most gRPC front-end processes of one engine.
MAX_FRONTENDS = 64
#: ``mobility serve``'s writer priority with front ends (``--writer-nice``; see
#: :func:`engine.writer.set_thread_nice`).
DEFAULT_WRITER_NICE = -10
#: Commands waiting for the writer beyond which new calls are refused at once (``--max-queue``).
DEFAULT_MAX_QUEUE = 5_000
#: The most iterations an operator's re-optimisation may ask for (``--max-reoptimise-iterations``),
#: and the longest any re-optimisation holds the writer (``--max-reoptimise-ms``).
DEFAULT_MAX_REOPTIMISE_ITERATIONS = 50_000
DEFAULT_MAX_REOPTIMISE_MS = 10_000
#: Defaults of ``mobility serve``'s limits (see :class:`engine.settings.Settings`).
DEFAULT_MAX_MESSAGE_KB = 512
DEFAULT_MAX_STREAMS = 10_000
DEFAULT_MAX_STREAMS_PER_CALLER = 16
DEFAULT_MAX_STREAMS_PER_PEER = 1_000
DEFAULT_MAX_STREAMS_PER_CONNECTION = 100
