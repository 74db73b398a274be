"""Write a toy dataset: python tools/make_toy_data.py {coco,ade} [OUT] [options].

coco: COCO-format instance segmentation (default data/toy_coco);
ade: ADE20K-layout semantic segmentation (default data/toy_ade).
"""
import argparse
import sys

import _quiet_imports  # noqa: F401  (first: filters warnings raised while importing)
from fasternet_dense.datasets.toydata import make_toy_ade, make_toy_coco

DEFAULT_OUT = {'coco': 'data/toy_coco', 'ade': 'data/toy_ade'}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('kind', choices=list(DEFAULT_OUT))
    parser.add_argument('out', nargs='?', help='output folder')
    parser.add_argument('--num-train', type=int)
    parser.add_argument('--num-val', type=int)
    parser.add_argument('--image-size', type=int)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    kwargs = {k: v for k, v in dict(num_train=args.num_train, num_val=args.num_val,
                                    image_size=args.image_size, seed=args.seed).items()
              if v is not None}
    make = make_toy_coco if args.kind == 'coco' else make_toy_ade
    result = make(args.out or DEFAULT_OUT[args.kind], **kwargs)
    print(f"wrote {args.kind} toy data to {result['root']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
