"""eventroles: who attacked, whom, where and when, tagged in conflict news."""

__version__ = "0.1.0"
