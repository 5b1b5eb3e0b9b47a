# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The bad inputs of tests/test_tools/test_bad_inputs.py and the ways to
hand them to the tools.

:class:`Shared` holds what every row may reuse (the working folder with the
``--demo`` data, checkpoints built once from the configs' models);
:class:`Bench` gives one row its own folder and calls the tools in this
process, as their ``main(argv)``. The small dataset sources are written in
the official layouts (zips, folders, file names, colour encodings).
"""
import io
import os
import os.path as osp
import pickle
import zipfile
from typing import Any, Callable, Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch

from tests import REPO, load_tool
from tests.payloads import GetattrPayload, SystemPayload

CLS_CONFIG = str(REPO / 'configs/cls/lemevit-tiny_8xb64_aid.py')
# A classifier of another design: LIT-S instead of LeMeViT-tiny.
OTHER_DESIGN_CONFIG = str(REPO / 'configs/cls/lit-s_8xb64_aid.py')
DET_CONFIG = str(REPO / 'configs/det/lemevit_maskrcnn.py')
# The cls demo cut to a few images and two one-iteration epochs; the runs
# are refused before any of it is used, but a refusal that regressed then
# ends quickly (the assertion fails, not the time limit).
SHORT = [
    'train_dataloader.dataset.indices=4', 'train_dataloader.batch_size=4',
    'train_cfg.max_epochs=2', 'param_scheduler.1.begin=1',
    'val_dataloader.dataset.indices=4', 'test_dataloader.dataset.indices=4'
]
CONVERTER = 'model_converters/lemevit_to_sparse_backbones.py'
LIT_CONVERTER = 'model_converters/lit_to_sparse_backbones.py'
# What the converter of an unreadable or malicious file must not write.
CONVERTED = 'converted.pth'
# Seeds of 1 KiB random files that torch.load fails on with IndexError,
# MemoryError, UnicodeDecodeError and KeyError (not UnpicklingError).
RANDOM_SEEDS = (17, 50, 54, 62)

# The ISPRS label palette (RGB): six classes and the black boundaries;
# OFF_PALETTE is no class.
ISPRS_COLOURS = [(255, 255, 255), (0, 0, 255), (0, 255, 255), (0, 255, 0),
                 (255, 255, 0), (255, 0, 0), (0, 0, 0)]
OFF_PALETTE = (10, 20, 30)
POTSDAM_IMAGE = '2_Ortho_RGB/top_potsdam_2_10_RGB.tif'
POTSDAM_LABEL = 'top_potsdam_2_10_label_noBoundary.tif'


def encode(rgb: np.ndarray, ext: str = '.png', *params: int) -> bytes:
    """The bytes of an RGB (or single-channel) array saved as ``ext``."""
    image = rgb[..., ::-1] if rgb.ndim == 3 else rgb
    ok, data = cv2.imencode(ext, np.ascontiguousarray(image), list(params))
    assert ok, ext
    return data.tobytes()


def truncated(data: bytes) -> bytes:
    """The first half of a file, as an interrupted download leaves it."""
    return data[:len(data) // 2]


def _getattr_targets() -> Dict[str, tuple]:
    from mmengine.logging import HistoryBuffer
    return {
        'HistoryBuffer.__init__': (HistoryBuffer, '__init__'),
        'ndarray.tofile': (np.ndarray, 'tofile'),
        'Tensor.copy_': (torch.Tensor, 'copy_'),
    }


# What a getattr payload asks for: (object, attribute) by a short name.
GETATTR_TARGETS = _getattr_targets()


def write_file(path: str, data: bytes) -> str:
    with open(path, 'wb') as f:
        f.write(data)
    return path


def without(root: str, relative: str) -> str:
    """``root`` after removing its file ``relative``."""
    os.remove(osp.join(root, relative))
    return root


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(
        0, 256, (height, width, 3), dtype=np.uint8)


def image_file(size: int, ext: str = '.png') -> bytes:
    """The bytes of a random RGB image file, ``size`` pixels square."""
    return encode(random_image(size, size), ext)


# ------------------------------------------------------------ checkpoints --
def build_model_state(config: str) -> Dict[str, torch.Tensor]:
    """The state dict of the (randomly initialised) model of a cls config."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(config)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg.model).state_dict()


def _unreadable(kind: str) -> Optional[bytes]:
    """The bytes of a file that is no checkpoint; None for other kinds."""
    if kind == 'text':
        # A Git LFS pointer: what a clone without LFS leaves in its place.
        return (b'version https://git-lfs.github.com/spec/v1\n'
                b'oid sha256:' + b'4d7a' * 16 + b'\nsize 35430219\n')
    if kind == 'text-h':
        # Text starting with g, h or j: torch's legacy reader fails with
        # a KeyError, not an UnpicklingError.
        return b'hello world\n'
    if kind == 'random-bytes':
        return np.random.default_rng(0).integers(
            0, 256, 4096, dtype=np.uint8).tobytes()
    if kind.startswith('random-bytes-'):  # random-bytes-SEED, 1 KiB
        return np.random.default_rng(int(kind.split('-')[-1])).integers(
            0, 256, 1024, dtype=np.uint8).tobytes()
    if kind == 'empty':
        return b''
    if kind == 'truncated':
        buffer = io.BytesIO()
        torch.save(dict(state_dict={'w': torch.zeros(256)}), buffer)
        return truncated(buffer.getvalue())
    return None


class Shared:
    """What the rows of one module run share: the working folder (with the
    ``--demo`` data, generated by the first tool run) and the checkpoints,
    each built on first use."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._files: Dict[str, str] = {}
        self._states: Dict[str, Dict[str, torch.Tensor]] = {}
        self._tools: Dict[str, Any] = {}

    def tool(self, relative: str):
        """The module of a ``tools/`` script, imported once."""
        if relative not in self._tools:
            self._tools[relative] = load_tool(relative)
        return self._tools[relative]

    def state(self, config: str) -> Dict[str, torch.Tensor]:
        if config not in self._states:
            self._states[config] = build_model_state(config)
        return self._states[config]

    def checkpoint(self, kind: str) -> str:
        """A checkpoint file of the cls config's model, changed by ``kind``:

        - ``prefixed``: every key under ``model.`` (a wrapper's keys);
        - ``other-design``: the model of another design (LIT-S);
        - ``other-classes``: a head of 7 classes instead of 30;
        - ``not-a-state-dict``: a list of tensors;
        - ``unrelated``: the weights of a lone convolution;
        - ``lemevit``: the cls config's classifier (LeMeViT-tiny), as is;
        - ``official-lemevit``: an official LeMeViT-tiny checkpoint
          (timm layout, weights under ``model``);
        - ``text``, ``text-h``, ``random-bytes``, ``random-bytes-SEED``,
          ``empty``, ``truncated``: files that are no checkpoint at all.
        """
        if kind not in self._files:
            path = osp.join(self.root, f'{kind}.pth')
            data = _unreadable(kind)
            if data is not None:
                with open(path, 'wb') as f:
                    f.write(data)
            elif kind == 'official-lemevit':
                from tests.test_converters.test_lemevit import \
                    official_tiny_state_dict
                torch.save(dict(model=official_tiny_state_dict()), path)
            elif kind == 'not-a-state-dict':
                torch.save([torch.zeros(3)], path)
            elif kind == 'unrelated':
                torch.save(
                    dict(state_dict=torch.nn.Conv2d(3, 4, 3).state_dict()),
                    path)
            else:
                torch.save(dict(state_dict=self._changed_state(kind)), path)
            self._files[kind] = path
        return self._files[kind]

    def _changed_state(self, kind: str) -> Dict[str, torch.Tensor]:
        if kind == 'other-design':
            return self.state(OTHER_DESIGN_CONFIG)
        state = dict(self.state(CLS_CONFIG))
        if kind == 'lemevit':
            return state
        if kind == 'prefixed':
            return {f'model.{k}': v for k, v in state.items()}
        if kind == 'other-classes':
            state['head.fc.weight'] = torch.zeros(7, 320)
            state['head.fc.bias'] = torch.zeros(7)
            return state
        raise KeyError(kind)


# ---------------------------------------------------------- dataset sources --
def write_zip(path: str, members: Dict[str, bytes]) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, 'w') as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def isprs_label(size: int = 64) -> np.ndarray:
    """An RGB ISPRS label: vertical bands of every palette colour."""
    band = np.arange(size) * len(ISPRS_COLOURS) // size
    return np.array(ISPRS_COLOURS, np.uint8)[band][None].repeat(size, 0)


def potsdam_source(root: str,
                   image: Optional[bytes] = None,
                   label: Optional[bytes] = None,
                   size: int = 64) -> str:
    """The two Potsdam zips with tile 2_10 (train); ``image``/``label``
    replace the bytes of its files."""
    write_zip(
        osp.join(root, '2_Ortho_RGB.zip'), {
            POTSDAM_IMAGE:
            encode(random_image(size, size), '.tif')
            if image is None else image
        })
    write_zip(
        osp.join(root, '5_Labels_all_noBoundary.zip'), {
            POTSDAM_LABEL:
            encode(isprs_label(size), '.tif') if label is None else label
        })
    return root


def jpeg_label(size: int = 64) -> bytes:
    """An ISPRS label saved as JPEG: lossy, so many colours of no class."""
    return encode(isprs_label(size), '.jpg', cv2.IMWRITE_JPEG_QUALITY, 75)


def off_palette_label(size: int = 64, rows: int = 4) -> bytes:
    """A lossless label with ``rows`` rows of one colour of no class."""
    label = isprs_label(size)
    label[:rows] = OFF_PALETTE
    return encode(label, '.tif')


def isaid_source(root: str,
                 image: Optional[bytes] = None,
                 unknown_colour: bool = False,
                 size: int = 64) -> str:
    """iSAID train/images/P0004.png with its two masks: a ship (id 1000)
    and a plane (id 1001), the plane in a colour of no class if asked."""
    from sparse_backbones.datasets import ISAID_CLASSES
    from sparse_backbones.datasets.classes import ISAID_PALETTE_RGB
    folder = osp.join(root, 'train', 'images')
    os.makedirs(folder, exist_ok=True)
    colours = np.zeros((size, size, 3), np.uint8)
    ids = np.zeros((size, size, 3), np.uint8)
    objects = [((4, 4, 24, 16), 'ship', 1000),
               ((30, 30, 50, 44), 'plane', 1001)]
    for (x0, y0, x1, y1), name, instance in objects:
        colour = ISAID_PALETTE_RGB[ISAID_CLASSES.index(name)]
        if unknown_colour and name == 'plane':
            colour = (9, 8, 7)
        colours[y0:y1, x0:x1] = colour
        # id = R + 256 G + 65536 B
        ids[y0:y1,
            x0:x1] = (instance % 256, instance // 256 % 256, instance // 65536)
    files = {
        'P0004.png':
        encode(random_image(size, size)) if image is None else image,
        'P0004_instance_color_RGB.png': encode(colours),
        'P0004_instance_id_RGB.png': encode(ids),
    }
    for name, data in files.items():
        with open(osp.join(folder, name), 'wb') as f:
            f.write(data)
    return root


DOTA_LABELS = ('imagesource:GoogleEarth\ngsd:0.15\n'
               '10 10 60 10 60 40 10 40 plane 0\n')


def dota_source(root: str,
                image: Optional[bytes] = None,
                labels: Optional[str] = DOTA_LABELS,
                size: int = 300) -> str:
    """A DOTA split folder with P0001.png (``size`` pixels square) and its
    label file (none when ``labels`` is None)."""
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    with open(osp.join(root, 'images', 'P0001.png'), 'wb') as f:
        f.write(encode(random_image(size, size)) if image is None else image)
    if labels is not None:
        os.makedirs(osp.join(root, 'labelTxt'), exist_ok=True)
        with open(osp.join(root, 'labelTxt', 'P0001.txt'), 'w') as f:
            f.write(labels)
    return root


def scene_folder(root: str, classes: Sequence[str], per_class: int) -> str:
    """A scene-classification download: one folder of tiny JPEGs a class."""
    for label, name in enumerate(classes):
        os.makedirs(osp.join(root, name), exist_ok=True)
        for i in range(per_class):
            with open(osp.join(root, name, f'{name}_{i + 1}.jpg'), 'wb') as f:
                f.write(encode(random_image(8, 8, label * 100 + i), '.jpg'))
    return root


# ------------------------------------------------------------------ bench --
class Bench:
    """One row's view: its own folder (``tmp``), the shared files and the
    tools, called in this process.

    Args:
        shared (Shared): The module's shared files; also the working
            directory of the tools (for ``--demo``'s data/demo).
        tmp (str): This row's folder.
        monkeypatch: pytest's, for what a row changes in this process.
    """

    def __init__(self, shared: Shared, tmp: str, monkeypatch) -> None:
        self.shared = shared
        self.tmp = tmp
        self.monkeypatch = monkeypatch
        self.marker = osp.join(tmp, 'code_ran')
        # What the row's call returned and printed, for its ``then``.
        self.result: Any = None
        self.output = ''

    def path(self, *parts: str) -> str:
        return osp.join(self.tmp, *parts)

    def checkpoint(self, kind: str) -> str:
        return self.shared.checkpoint(kind)

    def tool(self, relative: str):
        return self.shared.tool(relative)

    # ------------------------------------------- sources in this folder --
    def potsdam(self, **kwargs) -> str:
        return potsdam_source(self.path('zips'), **kwargs)

    def isaid_root(self, **kwargs) -> str:
        return isaid_source(self.path('iSAID'), **kwargs)

    def dota_split(self, **kwargs) -> str:
        return dota_source(self.path('src'), **kwargs)

    def file(self, name: str, data: bytes) -> str:
        return write_file(self.path(name), data)

    # -------------------------------------------------------- payloads --
    def payload(self, writer: str = 'zip') -> str:
        """A checkpoint whose unpickling calls ``os.system`` to create
        :attr:`marker`; ``writer``: ``zip`` (torch.save), ``legacy``
        (torch.save's pre-1.6 format) or ``raw pickle``."""
        content = dict(
            state_dict={'backbone.x': torch.zeros(1)},
            meta=dict(note=SystemPayload(f'touch {self.marker}')))
        path = self.path('evil.pth')
        if writer == 'raw pickle':
            with open(path, 'wb') as f:
                pickle.dump(content, f)
        else:
            torch.save(
                content, path, _use_new_zipfile_serialization=writer == 'zip')
        return path

    def getattr_payload(self, target: str) -> str:
        """A checkpoint whose unpickling calls ``getattr`` on one of
        :data:`GETATTR_TARGETS` (the restricted getattr refuses it)."""
        path = self.path('evil_getattr.pth')
        torch.save(
            dict(
                state_dict={'backbone.x': torch.zeros(1)},
                meta=dict(note=GetattrPayload(*GETATTR_TARGETS[target]))),
            path)
        return path

    def payload_did_not_run(self) -> None:
        assert not osp.exists(self.marker), 'the checkpoint ran its code'

    # ----------------------------------------------------------- tools --
    def test_py(self, checkpoint: str, *extra: str):
        """tools/test.py CONFIG CHECKPOINT on the demo data."""
        return self.tool('test.py').main([
            CLS_CONFIG, checkpoint, '--demo', '--work-dir',
            self.path('work'), *extra, '--cfg-options', *SHORT
        ])

    def train_py(self, *extra: str, cfg_options: Sequence[str] = ()):
        """tools/train.py CONFIG on the demo data, into this row's folder."""
        return self.tool('train.py').main([
            CLS_CONFIG, '--demo', '--work-dir',
            self.path('work'), *extra, '--cfg-options', *SHORT, *cfg_options
        ])

    def train_py_without_demo(self, *extra: str) -> Any:
        """tools/train.py CONFIG on the config's own dataset paths."""
        return self.tool('train.py').main(
            [CLS_CONFIG, '--work-dir',
             self.path('work'), *extra])

    def infer_large(self,
                    checkpoint: str,
                    image: Optional[str] = None,
                    *extra: str,
                    config: str = DET_CONFIG):
        if image is None:
            image = self.path('scene.png')
            with open(image, 'wb') as f:
                f.write(encode(random_image(64, 64)))
        return self.tool('infer_large.py').main([
            config, checkpoint, image, '--out-dir',
            self.path('out'), '--no-progress', *extra
        ])

    def visualize(self, checkpoint: str):
        # The checkpoint is checked before the image is read.
        return self.tool('visualize.py').main([
            'ltm', CLS_CONFIG, checkpoint,
            self.path('image.png'), '--out',
            self.path('vis.png')
        ])

    def pretrained_backbone(self, checkpoint: str, prefix: str = 'backbone.'):
        """LeMeViT-tiny built by the registry with init_cfg=Pretrained, then
        init_weights()."""
        from sparse_backbones.registry import MODELS
        backbone = MODELS.build(
            dict(
                type='LeMeViT',
                arch='tiny',
                out_type='avg_featmap',
                init_cfg=dict(
                    type='Pretrained', checkpoint=checkpoint, prefix=prefix)))
        backbone.init_weights()
        return backbone

    def backbone(self, **kwargs):
        from sparse_backbones.registry import MODELS
        return MODELS.build(dict(type='LeMeViT', arch='tiny', **kwargs))

    def convert(self,
                src: str,
                dst: Optional[str] = None,
                script: str = CONVERTER,
                *extra: str):
        """A model converter: SRC DST."""
        return self.tool(script).main(
            [src, dst or self.path(CONVERTED), *extra])

    def nothing_converted(self) -> None:
        assert not osp.exists(self.path(CONVERTED))

    def isprs(self, src: str, *extra: str, out: str = 'out'):
        return self.tool('dataset_converters/isprs.py').main([
            'potsdam', src, '--out-dir',
            self.path(out), '--clip-size', '16', '--stride', '16', *extra
        ])

    def isaid(self, src: str, *extra: str):
        return self.tool('dataset_converters/isaid.py').main(
            [src, '--out-dir',
             self.path('out'), '--splits', 'train', *extra])

    def dota(self, src: str, *extra: str, out: str = 'out'):
        return self.tool('dataset_converters/dota.py').main([
            src, '--out-dir',
            self.path(out), '--sizes', '256', '--gaps', '56', '--nproc', '1',
            *extra
        ])

    def aid(self, *argv: str):
        return self.tool('dataset_converters/aid.py').main(list(argv))

    # ----------------------------------------------- two-step inputs --
    def isprs_over_other_clip_size(self):
        """isprs.py into a folder that a run with --clip-size 16 filled."""
        src = potsdam_source(self.path('zips'))
        assert self.isprs(src) == 0
        return self.tool('dataset_converters/isprs.py').main([
            'potsdam', src, '--out-dir',
            self.path('out'), '--clip-size', '8', '--stride', '16'
        ])

    def dota_after_label_change(self):
        """The splitter rerun after the label file of a split image was
        rewritten (another class, a later modification time)."""
        src = dota_source(self.path('src'))
        assert self.dota(src) == 0
        label = osp.join(src, 'labelTxt', 'P0001.txt')
        with open(label, 'w') as f:
            f.write('10 10 60 10 60 40 10 40 helicopter 0\n')
        stat = os.stat(label)
        os.utime(label, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        return self.dota(src)

    def dota_over_other_gaps(self):
        """The splitter into a folder that a run with --gaps 56 filled."""
        src = dota_source(self.path('src'))
        assert self.dota(src) == 0
        return self.dota(src, '--gaps', '100')

    def dota_patch_labels(self) -> str:
        with open(self.path('out', 'labelTxt', 'P0001__256__0___0.txt')) as f:
            return f.read()

    def aid_from_outside_the_repository(self):
        """aid.py nwpu run with a working directory outside the
        repository (the configs are found from the package)."""
        from sparse_backbones.datasets import NWPU_RESISC45_CLASSES
        src = scene_folder(
            self.path('NWPU-RESISC45'), NWPU_RESISC45_CLASSES[:2], 10)
        elsewhere = self.path('elsewhere')
        os.makedirs(elsewhere)
        self.monkeypatch.chdir(elsewhere)
        return self.aid('nwpu', src, '--out-dir', self.path('splits_out'),
                        '--seeds', '0')

    def train_over_earlier_checkpoints(self):
        os.makedirs(self.path('work'))
        with open(self.path('work', 'epoch_3.pth'), 'wb'):
            pass
        return self.train_py_without_demo()


def named_configs_exist(output: str) -> List[str]:
    """The configs that aid.py's output says read its splits."""
    named = [
        line.split('read by ')[1].split(' (')[0]
        for line in output.splitlines() if 'read by ' in line
    ]
    assert named and all(osp.isfile(p) for p in named), output
    return named


Call = Callable[[Bench], Any]
