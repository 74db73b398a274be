"""The package's layers: lower folders never import higher ones, so a model
or a hook can be used without the tools, the benchmark or the export."""
import ast
import glob
import os.path as osp

from conftest import ROOT

# Each folder and the folders it may import (besides itself).
ALLOWED = {
    'utils': set(),
    'models': {'utils'},
    'datasets': {'utils'},
    'engine': {'utils', 'datasets', 'models'},
    'apis': {'utils', 'datasets', 'models', 'engine'},
    'deploy': {'utils', 'datasets', 'models', 'engine', 'apis'},
    'benchmark': {'utils', 'datasets', 'models', 'engine', 'apis', 'deploy'},
    'cli': {'utils', 'datasets', 'models', 'engine', 'apis', 'deploy', 'benchmark'},
}


def _imported_folders(path: str, folder: str):
    """The package folders ``path`` (in ``folder``) imports, at any depth of
    the file (lazy imports count)."""
    depth = len(osp.relpath(path, osp.join(ROOT, 'fasternet_dense')).split(osp.sep)) - 1
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or '').split('.')
                if parts[0] == 'fasternet_dense' and len(parts) > 1:
                    yield parts[1]
            elif node.level > depth:  # climbs out of its folder
                yield (node.module or '').split('.')[0]


def test_no_folder_imports_a_folder_above_it():
    wrong = []
    for folder, allowed in ALLOWED.items():
        files = glob.glob(osp.join(ROOT, 'fasternet_dense', folder, '**', '*.py'), recursive=True)
        assert files, folder
        for path in files:
            for other in _imported_folders(path, folder):
                if other != folder and other not in allowed:
                    wrong.append(f'{osp.relpath(path, ROOT)} imports {other}')
    assert wrong == []


def test_the_package_root_holds_few_files():
    root = glob.glob(osp.join(ROOT, 'fasternet_dense', '*.py'))
    assert [osp.basename(p) for p in root] == ['__init__.py']
