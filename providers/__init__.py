"""Cloud adapters implementing `luna_autoscaler.ports.NodeProvider`, one package per cloud plus the fake.

Each is registered as an entry point in the group `luna_autoscaler.providers`; the core finds them there and
never imports a cloud SDK itself.
"""
