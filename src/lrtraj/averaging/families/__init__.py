"""One module per averaging family, each defining ``FAMILY`` (a ``lrtraj.averaging.Family``).

Modules here are discovered by ``lrtraj.averaging``; they must not import torch at module level.
"""
