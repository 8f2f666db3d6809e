"""A service day, simulated: demand, traffic, the event loop, KPIs and reports.

To come (see ARCHITECTURE.md). Imports ``routing`` and ``matching``; talks to a live engine
only through the gRPC client.
"""
