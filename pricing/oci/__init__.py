"""OCI prices and shapes: the flexible CPU shapes, the public price list, OKE's node policy (docs/oci.md)."""
