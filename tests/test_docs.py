"""README.md and docs/*.md against the repository: every ``configs/...``,
``tools/...``, ``scripts/...`` and ``docs/...`` path they name exists, every
flag they pass to a tool is one its ``--help`` lists, and every relative
link resolves."""
import functools
import glob
import os.path as osp
import re
import subprocess
import sys

import pytest
from conftest import ROOT

DOCS = ['README.md'] + sorted(osp.relpath(p, ROOT) for p in glob.glob(
    osp.join(ROOT, 'docs', '**', '*.md'), recursive=True))
# Paths of the repository as the documents write them.
PATH = re.compile(r'(?<![\w./-])((?:configs|tools|scripts|docs)/[\w./{},-]*[\w/}])')
# Paths of other projects that the documents name as such.
ELSEWHERE = ('tools/analysis_tools/', 'configs/mmdet/', 'configs/*')
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')
TOOL = re.compile(r'(?<![\w/])tools/(\w+)\.py')
FLAG = re.compile(r'(?<![\w-])(--[a-z0-9][\w-]*)')
CODE_BLOCK = re.compile(r'```[^\n]*\n(.*?)```', re.S)
INLINE_CODE = re.compile(r'`([^`\n]+)`')


def _read(doc: str) -> str:
    with open(osp.join(ROOT, doc), encoding='utf-8') as f:
        return f.read()


@functools.lru_cache(maxsize=None)
def tool_flags(tool: str) -> frozenset:
    """The options ``tools/TOOL.py --help`` lists."""
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', f'{tool}.py'), '--help'],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return frozenset(FLAG.findall(proc.stdout)) | {'--help'}


def commands(text: str):
    """``(tool, its part of the command)`` of every tool call: each line of a
    code block (continuations joined) and each inline code span."""
    spans = []
    for block in CODE_BLOCK.findall(text):
        spans += [line.split(' #')[0] for line in block.replace('\\\n', ' ').splitlines()]
    spans += INLINE_CODE.findall(CODE_BLOCK.sub('', text))
    for span in spans:
        calls = list(TOOL.finditer(span))
        for i, call in enumerate(calls):
            end = calls[i + 1].start() if i + 1 < len(calls) else len(span)
            yield call.group(1), span[call.end():end]


def expand(path: str) -> list:
    """``configs/x_{a,b}.py`` as the shell expands it."""
    found = re.search(r'\{([^{}]*)\}', path)
    if not found:
        return [path]
    return [p for part in found.group(1).split(',')
            for p in expand(path[:found.start()] + part + path[found.end():])]


@pytest.mark.parametrize('doc', DOCS)
def test_paths_named_exist(doc):
    missing = []
    for named in PATH.findall(_read(doc)):
        if named.startswith(ELSEWHERE) or '<' in named:
            continue
        missing += [p for p in expand(named.rstrip('.'))
                    if not osp.exists(osp.join(ROOT, p))]
    assert not missing, f'{doc} names paths that do not exist: {sorted(set(missing))}'


@pytest.mark.parametrize('doc', DOCS)
def test_relative_links_resolve(doc):
    broken = []
    for target in LINK.findall(_read(doc)):
        if re.match(r'[a-z]+:', target) or target.startswith('#'):
            continue
        path = osp.normpath(osp.join(ROOT, osp.dirname(doc), target.split('#')[0]))
        if not osp.exists(path):
            broken.append(target)
    assert not broken, f'{doc} links to missing files: {broken}'


@pytest.mark.parametrize('doc', DOCS)
def test_flags_passed_to_tools_are_theirs(doc):
    unknown = set()
    for tool, args in commands(_read(doc)):
        if not osp.isfile(osp.join(ROOT, 'tools', f'{tool}.py')):
            unknown.add(f'tools/{tool}.py')
            continue
        unknown |= {f'tools/{tool}.py {flag}' for flag in FLAG.findall(args)
                    if flag not in tool_flags(tool)}
    assert not unknown, f'{doc} passes what the tools do not take: {sorted(unknown)}'


def test_the_check_finds_a_wrong_flag_a_missing_path_and_a_broken_link():
    text = ('```bash\npython tools/test.py CONFIG CKPT --no-such-flag\n```\n'
            'see configs/none.py and [this](docs/none.md)')
    assert [(t, FLAG.findall(a)) for t, a in commands(text)] == [('test', ['--no-such-flag'])]
    assert '--no-such-flag' not in tool_flags('test')
    assert PATH.findall(text) == ['tools/test.py', 'configs/none.py', 'docs/none.md']
    assert expand('configs/a_{t0,s}_{x,y}.py') == ['configs/a_t0_x.py', 'configs/a_t0_y.py',
                                                   'configs/a_s_x.py', 'configs/a_s_y.py']
    assert LINK.findall(text) == ['docs/none.md']


def test_model_zoo_rows_name_each_configs_imagenet_weights():
    """Every model-zoo row of a FasterNet config (README and docs/model-zoo.md)
    links the ImageNet file that config's backbone loads."""
    from mmengine.config import Config
    checked = 0
    for doc in ('README.md', osp.join('docs', 'model-zoo.md')):
        for line in _read(doc).splitlines():
            named = re.findall(r'configs/(\w*fasternet_\w+)\.py', line)
            if not line.startswith('|') or len(named) != 1:
                continue
            cfg = Config.fromfile(osp.join(ROOT, 'configs', f'{named[0]}.py'))
            weights = osp.basename(cfg.model.backbone.init_cfg.checkpoint)
            assert weights in line, f'{doc}: the row of {named[0]} does not link {weights}'
            checked += 1
    assert checked >= 2 * 15  # 6 Mask R-CNN, 6 Semantic FPN, 3 RTMDet in each document
