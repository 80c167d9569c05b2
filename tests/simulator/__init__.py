"""The embedded simulator (weavr_async.testing), driven over plain aiohttp: one module per area
(a package, so that its conftest and module names do not collide with those in tests/)."""
