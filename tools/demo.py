"""The main job on data it makes itself: python tools/demo.py [--task det|seg|rtmdet|all].

Generates the toy dataset, evaluates the untrained model, trains the small
config on CPU, evaluates again and writes work_dirs/demo_<task>/predictions.png.
``all`` (the default) runs det and seg; rtmdet (RTMDet with FasterNet-T0) is
run on its own.
"""
import argparse
import sys

import _quiet_imports  # noqa: F401  (first: filters warnings raised while importing)
from fasternet_dense.cli.demo import DEMOS, MAIN_TASKS, run_demo


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--task', choices=[*DEMOS, 'all'], default='all')
    parser.add_argument('--work-dir-prefix', default='work_dirs/demo_')
    parser.add_argument('--seed', type=int, default=None,
                        help="random seed (default: the toy config's, 0)")
    args = parser.parse_args()
    tasks = list(MAIN_TASKS) if args.task == 'all' else [args.task]
    options = None if args.seed is None else {'randomness.seed': args.seed}
    for task in tasks:
        work_dir = f'{args.work_dir_prefix}{task}'
        result = run_demo(task, work_dir, options, say=lambda line: print(line, flush=True))
        metric = DEMOS[task]['metric']
        print(f'{task}: {metric} untrained {result["untrained"][metric]} -> trained '
              f'{result["trained"][metric]} in {result["train_minutes"]} min; '
              f'picture: {result["picture"]}; all numbers: {work_dir}/demo_result.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
