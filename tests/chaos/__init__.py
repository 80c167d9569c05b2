"""Chaos tests: the SDK against the simulator with faults injected at realistic and hostile
rates (a package, so that its conftest and modules do not collide with those in tests/)."""
