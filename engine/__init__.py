"""The live service: gRPC servicers, the state store (in-memory, Redis), auth, settings.

To come (see ARCHITECTURE.md). Imports ``routing`` and ``matching``, never ``sim``. The
command line lives in the ``mobility`` package because it must reach every room.
"""
