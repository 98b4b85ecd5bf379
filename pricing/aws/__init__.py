"""AWS prices: the bundled snapshot's AWS part (`snapshot`, run by `pricing.build_snapshot`), and live prices,
on-demand from the Price List Query API and spot from EC2's spot price history.

The live prices refine the bundled snapshot (pricing.catalog) for one region and are refreshed periodically by
`LiveAwsCatalog`; the parsers are separate from the fetching so that they can be tested against recorded answers.
The clients are given (providers.aws builds them once boto3 is known to be installed); `live_catalog` imports
botocore for its exception classes, so only providers.aws imports it.
"""
