"""Domain values: quantities, resources, pods and nodes, scheduling constraints, catalog offerings."""
