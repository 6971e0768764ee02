"""Guided scenarios: YAML files of steps (text, action, verify, hint) that walk a learner through a flow.

Sans-I/O core: `model` (frozen values), `parse` (YAML + schema -> model), `template` (`{{ var }}`),
`judge` (observation -> verdict), `progress` (what passed). I/O edge: `observe`, `actions`, `runner`.
"""
