"""GCP prices: the bundled snapshot's offerings with the labels GKE puts on nodes, refined live from the Cloud
Billing Catalog (Compute Engine SKUs). Only `billing` and `live_catalog` import the Google SDK."""
