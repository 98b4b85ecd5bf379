"""GCP prices: the bundled snapshot's GCP part (`snapshot`, run by `pricing.build_snapshot`), its offerings with the
labels GKE puts on nodes, refined live from the Cloud Billing Catalog (Compute Engine SKUs). Only `billing` and
`live_catalog` import the Google SDK."""
