"""Helpers shared by more than one test package (not tests themselves)."""
