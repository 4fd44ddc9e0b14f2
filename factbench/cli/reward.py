"""`factbench reward serve`: the training reward over HTTP (docs/reward.md)."""

from __future__ import annotations

import argparse
import os
import sys

from factbench.cli.checks import FINITE, POSITIVE, number, whole
from factbench.cli.options import EXIT_OK, _add_answer_scoring_args, _add_judge_args, options_from
from factbench.pipeline.options import UsageError
from factbench.scoring.reward import DEFAULT_DETAIL_CAP

API_KEY_ENV = "FACTBENCH_REWARD_API_KEY"


def add_reward_parser(sub) -> None:
    reward = sub.add_parser("reward", help="the training reward: serve it over HTTP for RL trainers")
    rsub = reward.add_subparsers(dest="reward_command", required=True)
    serve = rsub.add_parser("serve", help="POST /score, POST /get_reward (OpenRLHF), GET /health")
    _add_judge_args(serve)
    _add_answer_scoring_args(serve)
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on; another than loopback needs an API key (or --insecure)")
    serve.add_argument("--api-key-env", default=API_KEY_ENV, metavar="VAR",
                       help=f"environment variable holding the key every request must send as "
                            f"'Authorization: Bearer KEY' (default {API_KEY_ENV}; unset: no key)")
    serve.add_argument("--insecure", action="store_true",
                       help="listen on a non-loopback --host without an API key (a private network only)")
    serve.add_argument("--port", type=whole(1, 65535), default=8100, help="port to listen on")
    serve.add_argument("--reward-detail-cap", type=POSITIVE, default=DEFAULT_DETAIL_CAP,
                       help="supported claims beyond this add nothing to the detail term")
    serve.add_argument("--reward-relevance", choices=("auto", "references", "model", "none"), default="auto",
                       help="relevance against given references, a --reference-model's answers, or not at all")
    serve.add_argument("--reward-abstention", type=number(0, 1), default=0.0, help="the reward of an abstention (0..1)")
    serve.add_argument("--masked-reward", type=FINITE, default=0.0,
                       help="the value /get_reward (OpenRLHF) sends for a masked answer; /score sends null")
    serve.add_argument("--max-in-flight", type=POSITIVE, help="answers scored at once (default: 2 x verifier capacity)")
    serve.add_argument("--records", metavar="DIR", help="append every scored pair with its reward id here")


def cmd_reward(args: argparse.Namespace) -> int:
    from factbench.cli.run import _preflight
    from factbench.llm.redact import register_key_variable
    from factbench.reward.scorer import Scorer
    from factbench.serving.reward_server import is_loopback, serve

    api_key = os.environ.get(args.api_key_env) or None
    if api_key:
        register_key_variable(args.api_key_env)  # never printed, even inside an error message
    elif not is_loopback(args.host) and not args.insecure:
        raise UsageError(f"--host {args.host} lets other machines spend judge time through this service: set an "
                         f"API key in ${args.api_key_env} (clients send 'Authorization: Bearer KEY'), or pass "
                         "--insecure on a private network")
    relevance = "none" if args.no_relevance else args.reward_relevance
    scorer = Scorer.from_options(options_from(args), evidence=args.evidence,
                                 reward_detail_cap=args.reward_detail_cap, reward_relevance=relevance,
                                 reward_abstention=args.reward_abstention, records_dir=args.records,
                                 max_in_flight=args.max_in_flight, preflight=False)  # checked below, with --no-preflight
    print(f"reward {scorer.reward_id}: judges {', '.join(f'{r}={s.model}' for r, s in scorer.roles.items())}, "
          f"evidence {scorer.backend.name}, lambda {scorer.spec.lam}, mu {scorer.spec.mu}, "
          f"relevance {scorer.spec.relevance}", file=sys.stderr)
    _preflight(args, scorer.roles)  # a wrong key, URL or model name stops the service before it listens
    scorer.warm_up()
    serve(scorer, args.host, args.port, args.masked_reward, api_key)
    return EXIT_OK
