"""Azure prices: the bundled snapshot's Azure part (`snapshot`, run by `pricing.build_snapshot`)."""
