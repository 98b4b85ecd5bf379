"""GCP prices: the bundled snapshot's GCP part (`snapshot`, run by `pricing.build_snapshot`)."""
