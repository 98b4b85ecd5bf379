"""OCI prices: the bundled snapshot's OCI part (`snapshot`, run by `pricing.build_snapshot`)."""
