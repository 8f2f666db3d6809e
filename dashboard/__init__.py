"""The operators' dashboard: a web page with a live map of the service, and replay of simulated days.

``mobility dashboard --engine HOST:PORT --token-file F`` follows a live engine over gRPC, as any
client does (:mod:`dashboard.live`); ``mobility dashboard --run runs/imod_jamsil`` replays a
simulation's run folder (:mod:`dashboard.replay`). Either way :mod:`dashboard.server` serves the
page (:file:`dashboard/web`) on a local port and pushes changes to each browser over a WebSocket,
in the messages of :mod:`dashboard.protocol`.

This room imports neither the engine nor the simulator (see ARCHITECTURE.md): it reads the engine
through the API schema (:mod:`proto`) and a run through its files.
"""
