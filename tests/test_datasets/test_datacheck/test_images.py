"""Probing an image: its size, and whether it is whole and decodes."""
import pytest

from conftest import damage, write_image
from fasternet_dense.datasets.datacheck.images import decode_all, probe_image, truncation


@pytest.mark.parametrize('suffix', ['.jpg', '.png'])
def test_a_whole_image_gives_its_size(tmp_path, suffix):
    path = write_image(tmp_path / f'a{suffix}', size=(24, 32))
    assert truncation(path) is None
    assert probe_image(path, decode=False) == (None, (24, 32))
    assert probe_image(path, decode=True) == (None, (24, 32))


@pytest.mark.parametrize('suffix', ['.jpg', '.png'])
def test_truncated_and_garbage_files_are_named_as_such(tmp_path, suffix):
    cut = write_image(tmp_path / f'cut{suffix}')
    damage(cut, 'truncate')
    assert truncation(cut) is not None
    error, hw = probe_image(cut, decode=False)
    assert error and 'truncated' in error.lower() and hw is None
    junk = write_image(tmp_path / f'junk{suffix}')
    damage(junk, 'garbage')
    assert probe_image(junk, decode=True)[0]
    assert probe_image(str(tmp_path / f'none{suffix}'), decode=False)[0]


def test_auto_decodes_every_image_of_small_sets_only():
    assert decode_all('auto', 100, 2000) and not decode_all('auto', 2001, 2000)
    assert decode_all('decode', 10**6, 2000) and not decode_all('header', 5, 2000)
