"""Live AWS prices: on-demand from the Price List Query API, spot from EC2's spot price history.

They refine the bundled snapshot (pricing.catalog) for one region and are refreshed periodically by
`LiveAwsCatalog`; the parsers are separate from the fetching so that they can be tested against recorded answers.
boto3 is only needed by whoever builds the clients (providers.aws); these modules take the clients as given.
"""
