"""Remembered check results, keyed by what they depend on."""
import os

from fasternet_dense.datasets.datacheck.cache import CheckCache, file_stamp


def test_results_come_back_for_the_same_key_only(tmp_path):
    path = str(tmp_path / 'cache.json')
    cache = CheckCache(path, dict(root='/data', classes=['a', 'b']))
    assert not cache.loaded and cache.sections == {}
    cache.section('images')['x.jpg'] = [10, 123, True, None, 4, 5]
    cache.save()
    again = CheckCache(path, dict(root='/data', classes=['a', 'b']))
    assert again.loaded and again.section('images') == {'x.jpg': [10, 123, True, None, 4, 5]}
    other = CheckCache(path, dict(root='/data', classes=['a']))
    assert not other.loaded and other.sections == {}


def test_an_unreadable_cache_file_is_ignored_and_none_keeps_nothing(tmp_path):
    path = tmp_path / 'cache.json'
    path.write_bytes(b'{"version": 1, "key": ')
    assert not CheckCache(str(path), {}).loaded
    nothing = CheckCache(None, {})
    nothing.section('images')['x'] = 1
    nothing.save()
    assert os.listdir(tmp_path) == ['cache.json']


def test_a_files_stamp_is_its_size_and_modification_time(tmp_path):
    path = tmp_path / 'a.bin'
    path.write_bytes(b'12345')
    st = os.stat(path)
    assert file_stamp(str(path)) == [5, st.st_mtime_ns]
    assert file_stamp(str(tmp_path / 'none')) is None
