"""The live service: gRPC servicers, the state store (in-memory, Redis), auth, settings.

To come (see ARCHITECTURE.md). Imports ``routing`` and ``matching``, never ``sim``. The
command line lives in the ``mobility`` package because it must reach every room.
"""

# Here, not in engine.settings, so that the command line reads them without importing the engine.
#: Most gRPC front-end processes of one engine.
MAX_FRONTENDS = 64
#: ``mobility serve``'s writer priority with front ends (``--writer-nice``; see
#: :func:`engine.core.set_thread_nice`).
DEFAULT_WRITER_NICE = -10
