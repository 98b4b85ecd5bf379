"""The OCI (OKE) provider. Importing this package needs no SDK (its config section is read by the core)."""
