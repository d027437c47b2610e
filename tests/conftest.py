"""Shared pytest configuration: the network-namespace harness is available everywhere."""

pytest_plugins = ["tests.harness.netns"]
