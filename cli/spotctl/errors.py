"""The errors a user can cause or fix, each with what went wrong and how to fix it.

Exception tree:

    SpotctlError            one line + hint, exit code 1 (failure)
    ├── UsageError          bad input from the user, exit code 2
    ├── ServiceDown         a service's URL does not answer: names it and says `spotctl up SERVICE`
    └── CommandNotFound     `spotctl exec`: no such program on the service's PATH, exit code 127

`__main__` prints these without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SpotctlError(Exception):
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(SpotctlError):
    exit_code = 2


class ServiceDown(SpotctlError):
    def __init__(self, service: str, url: str, detail: str = "") -> None:
        detail = f" ({detail})" if detail else ""
        super().__init__(f"{service} is not reachable at {url}{detail}",
                         hint=f"start it with `spotctl up {service}`, or point spotctl elsewhere "
                              f"(see `spotctl config`)")
        self.service = service
        self.url = url


class CommandNotFound(SpotctlError):
    exit_code = 127  # what a shell answers for a command it cannot find
