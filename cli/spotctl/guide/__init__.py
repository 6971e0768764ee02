"""The guide: runs the guided scenarios (`<project>/scenarios/*.yaml`), steps of text, an action,
checks and a hint that walk a learner through a flow of the stack.

Sans-I/O core: `model` (frozen values), `parse` (YAML + `schema` -> model), `template` (`{{ var }}`),
`progress` (what passed), and each check kind's `judge`/`describe` in `checks/`. I/O edge: `stores`
(the `spotctl.clients` a run reads through), each kind's `observe`, `actions`, `runner`.
"""
