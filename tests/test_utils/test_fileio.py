"""Files written whole or not at all, and which paths are on the local disk."""
import pytest

from fasternet_dense.utils.fileio import AtomicWriter, atomic_write_text, is_local


@pytest.mark.parametrize('path, local', [
    ('/data/coco/annotations.json', True), ('data/coco', True), ('', True),
    ('s3://bucket/coco/', False), ('https://example.org/weights.pth', False),
    ('http://example.org/weights.pth', False)])
def test_is_local_follows_mmengines_file_backends(path, local):
    assert is_local(path) is local


def test_backend_args_decide_over_the_prefix():
    assert not is_local('/data/coco', backend_args=dict(backend='petrel'))
    assert is_local('/data/coco', backend_args=dict(backend='local'))


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / 'record.txt'
    atomic_write_text('old', str(path))
    with pytest.raises(RuntimeError):
        with AtomicWriter(str(path)) as f:
            f.write(b'half of the new')
            raise RuntimeError('killed')
    assert path.read_text() == 'old'
    assert [p.name for p in tmp_path.iterdir()] == ['record.txt']
