"""Hand-run performance benchmarks of the connector against the local sandbox (never run by CI or pytest)."""
