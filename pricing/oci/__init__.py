"""OCI prices and shapes: the bundled snapshot's OCI part (`snapshot`, run by `pricing.build_snapshot`), the
flexible CPU shapes, the public price list, OKE's node policy (docs/oci.md)."""
