"""Decisions: which vehicle serves which request(s), and at what price.

To come (see ARCHITECTURE.md): the Request / Vehicle / Offer / Rejection model, service
rules, the Dispatcher, ride pooling, rebalancing and fare policies. Imports ``routing`` only.
"""
