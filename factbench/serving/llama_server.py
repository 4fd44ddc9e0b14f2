"""llama.cpp's own HTTP server (llama-server) from the prebuilt `xllamacpp` wheel, as a process.

`python -m factbench.serving.llama_server --model FILE.gguf --port 8000` serves the GGUF file's
OpenAI-compatible API (/v1/models, /v1/chat/completions with `response_format` JSON schemas
enforced by a grammar) until it is terminated. The flags are named as llama-cpp-python's server
names them, so either engine takes the same command line apart from the module.

xllamacpp ships llama.cpp compiled for x86-64-v3 (AVX2, FMA, F16C, BMI2; no AVX-512, no AMX) as a
manylinux_2_17 wheel, so nothing is compiled on the user's machine.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m factbench.serving.llama_server",
                                description="Serve a GGUF model over an OpenAI-compatible HTTP API (llama.cpp).")
    p.add_argument("--model", required=True, help="the .gguf file")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--n_ctx", type=int, default=8192, help="context length of the one slot")
    p.add_argument("--model_alias", default=None, help="the model name clients send (default: the file's stem)")
    p.add_argument("--n_threads", type=int, default=None, help="CPU threads (default: llama.cpp's choice)")
    p.add_argument("--n_parallel", type=int, default=1, help="completions computed at once")
    return p


def serve(args: argparse.Namespace) -> int:
    try:
        import xllamacpp
    except ImportError:
        print("llama_server: the prebuilt llama.cpp server is missing: pip install 'factbench[local]'",
              file=sys.stderr)
        return 2
    from pathlib import Path

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.n_ctx * args.n_parallel  # llama.cpp splits the context among the slots
    params.n_parallel = args.n_parallel
    params.model_alias = {args.model_alias or Path(args.model).stem}
    if args.n_threads:
        params.cpuparams.n_threads = args.n_threads
        params.cpuparams_batch.n_threads = args.n_threads
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = xllamacpp.Server(params)  # loads the model and listens; requests run on its own threads
    stop.wait()
    del server
    return 0


def main(argv: list[str] | None = None) -> int:
    return serve(parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
