"""--data-dir (issue 8, item 3): a study reads the thesis's real files when the directory holds them (the
LIBSVM site's names, plain or .bz2; MNIST IDX; CIFAR-10 batches), the stand-ins otherwise, and every run
says which data it used."""
from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_svmlight_file

from algorithms.datasets import LIBSVM_FILES, get_dataset, real_data_files
from studies import run_study
from studies.cli import main
from studies.spec import AlgorithmSpec, BudgetSpec, ClusterSpec, DatasetSpec, StudySpec, Target

SHARED = Path(__file__).resolve().parents[1].parent.parent / "shared" / "data"
if not SHARED.is_dir():
    SHARED = Path("/work/shared/data")
IJCNN1 = SHARED / "ijcnn1.bz2"


def _libsvm_text(rng, n, d, labels=(-1, 1)) -> str:
    lines = []
    for _ in range(n):
        cols = np.sort(rng.choice(d, size=3, replace=False)) + 1
        lines.append(f"{rng.choice(labels)} " + " ".join(f"{c}:{rng.normal():.6f}" for c in cols))
    return "\n".join(lines) + "\n"


def test_libsvm_site_names_plain_and_bz2_are_found_and_read_like_sklearn(tmp_path):
    rng = np.random.default_rng(0)
    text = _libsvm_text(rng, 40, 22)
    (tmp_path / "ijcnn1.bz2").write_bytes(bz2.compress(text.encode()))
    (tmp_path / "covtype.libsvm.binary").write_text(_libsvm_text(rng, 30, 54, labels=(1, 2)))
    assert real_data_files("ijcnn1", tmp_path) == [tmp_path / "ijcnn1.bz2"]
    assert real_data_files("rcv1", tmp_path) == []
    d = get_dataset("ijcnn1", data_dir=tmp_path)
    X, y = load_svmlight_file(str(tmp_path / "ijcnn1.bz2"), n_features=22)  # an independent reader
    assert np.array_equal(d.X.toarray(), X.toarray()) and np.array_equal(d.y, y)
    digest = hashlib.sha256((tmp_path / "ijcnn1.bz2").read_bytes()).hexdigest()[:16]
    assert d.origin.startswith(str(tmp_path / "ijcnn1.bz2")) and digest in d.origin
    c = get_dataset("covtype", data_dir=tmp_path)
    Xc, yc = load_svmlight_file(str(tmp_path / "covtype.libsvm.binary"))
    assert set(np.unique(c.y)) <= {-1.0, 1.0} and np.array_equal(c.y, np.where(yc == 2, 1.0, -1.0))
    assert "labels 1 -> -1, 2 -> +1" in c.source
    r = get_dataset("rcv1", scale=0.001, data_dir=tmp_path)  # no file: the synthetic stand-in
    assert r.origin == "synthetic rcv1-shaped" and r.n == get_dataset("rcv1", scale=0.001).n


def test_test_split_and_scaled_subset(tmp_path):
    rng = np.random.default_rng(1)
    (tmp_path / "ijcnn1").write_text(_libsvm_text(rng, 50, 22))
    (tmp_path / "ijcnn1.t").write_text(_libsvm_text(rng, 20, 22))
    d = get_dataset("ijcnn1", scale=0.2, seed=3, data_dir=tmp_path)
    full = get_dataset("ijcnn1", data_dir=tmp_path)
    assert d.n == 10 and d.n_test == 20 and full.n == 50
    rows = np.sort(np.random.default_rng(3).choice(50, size=10, replace=False))  # the documented subset rule
    assert np.array_equal(d.X.toarray(), full.X.toarray()[rows])
    assert "ijcnn1.t" in d.origin


def test_site_names_cover_the_thesis_sets():
    assert set(LIBSVM_FILES) == {"ijcnn1", "covtype", "rcv1"}
    assert "covtype.libsvm.binary.scale.bz2" in LIBSVM_FILES["covtype"][0]
    assert {"rcv1_train.binary", "rcv1_train.binary.bz2"} <= set(LIBSVM_FILES["rcv1"][0])


def _idx(path: Path, arr: np.ndarray) -> None:
    header = np.array([0x0800 | arr.ndim, *arr.shape], dtype=">u4").tobytes()
    path.write_bytes(gzip.compress(header + arr.astype(np.uint8).tobytes()))


def test_mnist_and_cifar_files_replace_their_stand_ins(tmp_path):
    rng = np.random.default_rng(2)
    m = tmp_path / "mnist"
    m.mkdir()
    imgs, labels = rng.integers(0, 256, (30, 28, 28)), rng.integers(0, 10, 30)
    _idx(m / "train-images-idx3-ubyte.gz", imgs)
    _idx(m / "train-labels-idx1-ubyte.gz", labels)
    _idx(m / "t10k-images-idx3-ubyte.gz", imgs[:7])
    _idx(m / "t10k-labels-idx1-ubyte.gz", labels[:7])
    d = get_dataset("digits10", data_dir=tmp_path)
    assert d.d == 784 and d.n == 30 and d.n_test == 7 and "real mnist" in d.source
    assert np.allclose(d.X, imgs.reshape(30, 784) / 255.0) and np.array_equal(d.y, labels)
    c = tmp_path / "cifar-10-batches-py"
    c.mkdir()
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        batch = {b"data": rng.integers(0, 256, (4, 3072)).astype(np.uint8), b"labels": list(rng.integers(0, 10, 4))}
        (c / name).write_bytes(pickle.dumps(batch, protocol=2))
    f = get_dataset("cifar_features", data_dir=tmp_path)
    assert f.d == 3072 and f.n == 20 and "not the 384 CNN features" in f.source
    (c / "test_batch").unlink()  # an incomplete set counts as absent: the stand-in is used
    assert get_dataset("cifar_features", scale=0.001, data_dir=tmp_path).origin == "synthetic cifar_features-shaped"


def _spec() -> StudySpec:
    return StudySpec(name="real", title="real", thesis_ref="Fig. 6", claim="c", problem="ridge", lam=0.1,
                     datasets=(DatasetSpec("ijcnn1", K=2, scale=0.02),),
                     algorithms=(AlgorithmSpec("cocoa+", "B", {"H": 50}),), cluster=ClusterSpec(latency=1e-5),
                     budget=BudgetSpec(max_epochs=1.0), target=Target("duality_gap", 1e-4, relative=True))


@pytest.mark.skipif(not IJCNN1.is_file(), reason="the real ijcnn1.bz2 is not in ../shared/data")
def test_study_on_the_real_ijcnn1_says_so(tmp_path):
    res = run_study(_spec(), out=tmp_path / "res", data_dir=SHARED, progress=False)
    (r,) = res.runs
    assert r.status in ("finished", "target_reached")
    assert r.info["n"] == round(0.02 * 49_990) and r.info["d"] == 22
    assert r.info["data"].startswith(str(IJCNN1.resolve())) and "1,395,175 bytes" in r.info["data"]
    from studies.report import report

    md = report(tmp_path / "res").markdown.read_text()
    assert "ijcnn1.bz2 (1,395,175 bytes, sha256" in md and "real ijcnn1: LIBSVM file" in md
    # the same study without --data-dir uses the synthetic set, and may not resume into that --out
    with pytest.raises(ValueError, match="holds runs of study 'real' with .*ijcnn1.bz2 .1,395,175 bytes.*use another --out"):
        run_study(_spec(), out=tmp_path / "res", progress=False)


def test_cli_data_dir_synthetic_fallback_and_bad_directory(tmp_path, capsys, monkeypatch):
    from studies import registry

    registry._ensure_builtin()
    monkeypatch.setitem(registry._STUDIES, "real", _spec())
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["study", "run", "real", "--data-dir", str(empty), "--out", str(tmp_path / "o")]) == 0
    doc = json.loads(next((tmp_path / "o" / "runs").glob("*/result.json")).read_text())
    assert doc["info"]["data"] == "synthetic ijcnn1-shaped" and doc["info"]["setup"] == {"study": "real"}
    capsys.readouterr()
    assert main(["study", "run", "real", "--data-dir", str(tmp_path / "nope"), "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--data-dir" in err and "existing directory" in err


def test_data_dir_identity_is_the_data_used_not_the_path(tmp_path):
    """An existing --out is refused only when the data its runs used differ: a --data-dir holding none of
    the study's files changes nothing, and the same files under another path (a symlink, another mount)
    are the same data; other bytes under the same name are not."""
    rng = np.random.default_rng(4)
    text = _libsvm_text(rng, 60, 22)
    a, b, c, empty = (tmp_path / x for x in ("a", "b", "c", "empty"))
    for d in (a, c, empty):
        d.mkdir()
    (a / "ijcnn1").write_text(text)
    (b).symlink_to(a, target_is_directory=True)  # the same files under another path
    (c / "ijcnn1").write_text(_libsvm_text(rng, 60, 22))  # other bytes, same name
    out = tmp_path / "res"
    first = run_study(_spec(), out=out, progress=False)  # the synthetic set
    again = run_study(_spec(), out=out, data_dir=empty, progress=False)  # no file of the study there
    assert again.skipped == 1 and again.runs == first.runs
    real = tmp_path / "real"
    made = run_study(_spec(), out=real, data_dir=a, progress=False)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    want = {"study": "real", "data": {"ijcnn1": f"ijcnn1 ({len(text.encode()):,} bytes, sha256 {digest})"}}
    assert json.loads((real / "study.json").read_text())["setup"] == {"data": want["data"]}
    assert made.runs[0].info["setup"] == want and made.runs[0].info["data"].startswith(str((a / "ijcnn1").resolve()))
    assert run_study(_spec(), out=real, data_dir=b, progress=False).skipped == 1  # resumed, not refused
    with pytest.raises(ValueError, match="holds runs of study 'real' with .*sha256 " + digest + ".*use another --out"):
        run_study(_spec(), out=real, data_dir=c, progress=False)
    with pytest.raises(ValueError, match="use another --out"):
        run_study(_spec(), out=real, data_dir=empty, progress=False)  # the stand-in is other data
