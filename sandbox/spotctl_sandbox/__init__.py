"""The sandbox services: API, real-time hub and workers of the Spotify-like stack."""
