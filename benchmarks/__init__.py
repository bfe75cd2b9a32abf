"""End-to-end benchmarks: tcpframe against an asyncio-streams baseline.

Run ``python -m benchmarks --help``; see ``benchmarks/README.md``.
"""

from pathlib import Path

# The directory that holds this package: the working directory of the
# peer and worker subprocesses, so that ``-m benchmarks.*`` finds it.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
