"""Helpers the tests share: sample documents, the app called as the host calls it, Azurite
and a throttling proxy in front of it, a clean environment for child processes."""
