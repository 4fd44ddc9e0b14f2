"""Print the option strings of `vllm serve`, read from an unpacked vLLM wheel without importing it.

Only the modules that build the serve parser are read. Two sources: literal `add_argument("--flag", ...)` calls, and the fields of the frontend argument
dataclasses (classes with a `*FrontendArgs` name), which vLLM turns into `--field-name` flags.
Usage: python extract_vllm_options.py UNPACKED_WHEEL/vllm > options.txt
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

# The modules that build `vllm serve`'s parser: the engine's arguments and the frontend's.
SERVE_FILES = {"arg_utils.py", "cli_args.py", "entrypoints/cli/serve.py"}


def option_strings(root: Path) -> set[str]:
    found: set[str] = set()
    for path in sorted(root.rglob("*.py")):
        if path.name not in SERVE_FILES and path.relative_to(root).as_posix() not in SERVE_FILES:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
                found.update(a.value for a in node.args
                             if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value.startswith("-"))
            if isinstance(node, ast.ClassDef) and node.name.endswith("FrontendArgs"):
                found.update("--" + s.target.id.replace("_", "-") for s in node.body
                             if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name))
    return found


if __name__ == "__main__":
    print("\n".join(sorted(option_strings(Path(sys.argv[1])))))
