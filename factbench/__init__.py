"""factbench: how factual are long-form LLM answers?

Pipeline: prompt -> answer -> claims -> evidence -> verdicts -> metrics -> tables.
The stage order lives in :mod:`factbench.pipeline.runner`; each stage is its own module.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("factbench")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+source"

from factbench.reports.run_tables import load_run  # noqa: E402
from factbench.tasks import Prompt, Task  # noqa: E402

__all__ = ["Prompt", "Task", "__version__", "load_run"]
