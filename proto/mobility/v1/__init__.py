"""Generated gRPC code of the mobility.v1 API (from proto/mobility/v1/*.proto by `make proto`; never edit by hand)."""
