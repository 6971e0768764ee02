"""Kubernetes manifests derived from the compose file: render (pure), checks, and the I/O around them."""
