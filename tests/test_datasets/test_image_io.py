# Copyright (c) sparse_backbones contributors. All rights reserved.
"""One image-reading policy (sparse_backbones.datasets.image_io) and every
entry point that reads images following it."""
import os
import os.path as osp
import zipfile
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from PIL import Image

from sparse_backbones.datasets import image_io

from tests import REPO, load_tool


def encode(image: np.ndarray, ext: str) -> bytes:
    """Encode an array in OpenCV band order (BGR) as a file holds it."""
    ok, data = cv2.imencode(ext, np.ascontiguousarray(image))
    assert ok, ext
    return data.tobytes()


def write(path, data: bytes) -> str:
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    return str(path)


def policy(values: np.ndarray) -> np.ndarray:
    """The documented 16-bit policy, written independently: value / 257,
    rounded to the nearest integer."""
    return np.floor(values.astype(np.float64) / 257 + 0.5).astype(np.uint8)


# --------------------------------------------------------- the 16-bit tile --
# Values up to 40000 (not 65535): stretching to the maximum, percentile
# clipping and OpenCV's 8-bit conversion (value >> 8) all give other pixels
# than value / 257, so an entry point with another policy fails below.
H, W = 20, 28


def tile16(bands: int) -> np.ndarray:
    """A 16-bit tile in file (BGR) band order, ``(H, W)`` for one band."""
    rng = np.random.default_rng(bands)
    shape = (H, W) if bands == 1 else (H, W, bands)
    tile = rng.integers(0, 40001, shape, dtype=np.uint16)
    tile.flat[:4] = (0, 128, 129, 40000)  # round-half cases and the top
    return tile


def expected_bgr(tile: np.ndarray) -> np.ndarray:
    """The uint8 BGR pixels every entry point must hand on."""
    pixels = policy(tile)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    return pixels


TILES = [(bands, ext) for bands in (1, 3) for ext in ('.png', '.tif')]
TILE_IDS = [f'{bands}band{ext}' for bands, ext in TILES]


@pytest.fixture(params=TILES, ids=TILE_IDS)
def tile(request):
    bands, ext = request.param
    data = tile16(bands)
    return SimpleNamespace(
        array=data,
        bytes=encode(data, ext),
        ext=ext,
        bit_depth=16,
        expected=expected_bgr(data))


def tile12bit(bands: int) -> np.ndarray:
    """12-bit sensor values (0..4095) in a 16-bit file, (H, W[, bands])."""
    rng = np.random.default_rng(100 + bands)
    shape = (H, W) if bands == 1 else (H, W, bands)
    tile = rng.integers(0, 4096, shape, dtype=np.uint16)
    tile.flat[:4] = (0, 8, 2048, 4095)  # round-half (2048) and the top
    return tile


@pytest.fixture(
    params=[(3, '.tif'), (1, '.png')], ids=['3band.tif', '1band.png'])
def tile12(request):
    """A 12-bit tile read with ``bit_depth=12``: ``value * 255 / 4095``,
    so the full 12-bit range becomes the full 8-bit range, not the near
    black (at most 16) of the 16-bit scale."""
    bands, ext = request.param
    data = tile12bit(bands)
    pixels = np.floor(data.astype(np.float64) * 255 / 4095 + 0.5).astype(
        np.uint8)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    return SimpleNamespace(
        array=data,
        bytes=encode(data, ext),
        ext=ext,
        bit_depth=12,
        expected=pixels)


# Each reader: (tile, tmp_path, monkeypatch) -> the uint8 BGR (H, W, 3)
# pixels it hands on.
def via_image_io(tile, tmp_path, monkeypatch):
    return image_io.read_image(
        write(tmp_path / f'a{tile.ext}', tile.bytes), bit_depth=tile.bit_depth)


def _first_step(dataset, index: int = 0) -> np.ndarray:
    """The image the dataset's loading step hands to the pipeline."""
    results = dataset.pipeline.transforms[0](dataset.get_data_info(index))
    return results['img']


def via_aid_dataset(tile, tmp_path, monkeypatch):
    pytest.importorskip('mmpretrain')
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import DATASETS

    from sparse_backbones.datasets import AID_CLASSES
    root = tmp_path / 'aid'
    write(root / 'images' / AID_CLASSES[0] / f'tile{tile.ext}', tile.bytes)
    write(root / 'split.txt', f'{AID_CLASSES[0]}/tile{tile.ext} 0\n'.encode())
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(
            dict(
                type='sparse_backbones.AIDDataset',
                data_root=str(root),
                data_prefix='images',
                ann_file='split.txt',
                pipeline=[
                    dict(
                        type='LoadImageFromFile', bit_depth=tile.bit_depth),
                    dict(type='PackInputs')
                ]))
        inputs = dataset[0]['inputs']  # what the model gets, CHW
    first = _first_step(dataset)
    np.testing.assert_array_equal(inputs.permute(1, 2, 0).numpy(), first)
    return first


def via_dota_dataset(tile, tmp_path, monkeypatch):
    pytest.importorskip('mmdet')
    from mmdet.registry import DATASETS
    from mmengine.registry import DefaultScope
    root = tmp_path / 'dota'
    write(root / 'images' / f'P0001{tile.ext}', tile.bytes)
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = DATASETS.build(
            dict(
                type='sparse_backbones.DOTADataset',
                data_root=str(root),
                ann_file='',
                data_prefix=dict(img_path='images/'),
                img_suffix=tile.ext,
                test_mode=True,
                pipeline=[
                    dict(
                        type='LoadImageFromFile', bit_depth=tile.bit_depth),
                    dict(type='PackDetInputs', meta_keys=('img_id', ))
                ]))
        inputs = dataset[0]['inputs']
        assert dataset.get_data_info(0)['width'] == W
    first = _first_step(dataset)
    np.testing.assert_array_equal(inputs.permute(1, 2, 0).numpy(), first)
    return first


def via_potsdam_dataset(tile, tmp_path, monkeypatch):
    pytest.importorskip('mmseg')
    from mmengine.registry import DefaultScope
    from mmseg.registry import DATASETS
    root = tmp_path / 'potsdam'
    write(root / 'img_dir' / 'val' / f'2_13_0_0{tile.ext}', tile.bytes)
    write(root / 'ann_dir' / 'val' / '2_13_0_0.png',
          encode(np.ones((H, W), np.uint8), '.png'))
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DATASETS.build(
            dict(
                type='sparse_backbones.ISPRSPotsdamDataset',
                data_root=str(root),
                data_prefix=dict(
                    img_path='img_dir/val', seg_map_path='ann_dir/val'),
                img_suffix=tile.ext,
                pipeline=[
                    dict(
                        type='LoadImageFromFile', bit_depth=tile.bit_depth),
                    dict(type='LoadAnnotations'),
                    dict(type='PackSegInputs')
                ]))
        inputs = dataset[0]['inputs']
    first = _first_step(dataset)
    np.testing.assert_array_equal(inputs.permute(1, 2, 0).numpy(), first)
    return first


def via_demo(tile, tmp_path, monkeypatch):
    """``--demo`` data read through the config prepare_demo returns."""
    pytest.importorskip('mmdet')
    from mmdet.registry import DATASETS
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from sparse_backbones.demo import prepare_demo
    cfg = prepare_demo(
        Config.fromfile(str(REPO / 'configs/det/lemevit_maskrcnn.py')),
        str(tmp_path / 'demo'))
    dataset_cfg = cfg.test_dataloader.dataset
    # As a config for 12-bit imagery says it (the demo's loader is the
    # plain LoadImageFromFile, routed to LoadRSImageFromFile).
    dataset_cfg.pipeline[0]['bit_depth'] = tile.bit_depth
    images = osp.join(dataset_cfg.data_root, dataset_cfg.data_prefix.img_path)
    name = sorted(os.listdir(images))[0]
    # The demo patch is replaced by the tile (its content decides the
    # format, whatever the name says).
    write(osp.join(images, name), tile.bytes)
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = DATASETS.build(dataset_cfg)
    index = [
        osp.basename(dataset.get_data_info(i)['img_path'])
        for i in range(len(dataset))
    ].index(name)
    return _first_step(dataset, index)


def via_dota_converter(tile, tmp_path, monkeypatch):
    tool = load_tool('dataset_converters/dota.py', '_image_io_dota')
    src = tmp_path / 'src'
    img_path = write(src / 'images' / f'P0001{tile.ext}', tile.bytes)
    settings = tool.SplitSettings(
        sizes=[32],
        gaps=[0],
        rates=[1.0],
        iof_thr=0.7,
        pad_value=[0, 0, 0],
        classes=[],
        with_labels=False,
        bit_depth=tile.bit_depth)
    out = str(tmp_path / 'out')
    os.makedirs(osp.join(out, 'images'))
    result = tool.split_image(img_path, None, out, settings)
    assert result.error is None, result.error
    patch = cv2.imread(
        osp.join(out, 'images', 'P0001__32__0___0.png'), cv2.IMREAD_UNCHANGED)
    return patch[:H, :W]


def via_isaid_converter(tile, tmp_path, monkeypatch):
    tool = load_tool('dataset_converters/isaid.py', '_image_io_isaid')
    src = tmp_path / 'iSAID'
    # The converter lists P<n>.png; the decoder goes by the content.
    write(src / 'test' / 'images' / 'P0001.png', tile.bytes)
    out = str(tmp_path / 'out')
    counts = tool.convert_split(
        str(src), out, 'test', skip=(), bit_depth=tile.bit_depth)
    assert counts['patches'] == 1
    return cv2.imread(
        osp.join(out, 'test', 'images', 'P0001.png'), cv2.IMREAD_UNCHANGED)


def via_isprs_converter(tile, tmp_path, monkeypatch):
    tool = load_tool('dataset_converters/isprs.py', '_image_io_isprs')
    src = tmp_path / 'potsdam_src'
    os.makedirs(src)
    with zipfile.ZipFile(src / '2_Ortho_RGB.zip', 'w') as archive:
        # Potsdam ships TIFFs; the decoder goes by the content.
        archive.writestr('2_Ortho_RGB/top_potsdam_2_10_RGB.tif', tile.bytes)
    white = np.full((H, W, 3), 255, np.uint8)  # impervious surfaces
    with zipfile.ZipFile(src / '5_Labels_all_noBoundary.zip', 'w') as archive:
        archive.writestr('top_potsdam_2_10_label_noBoundary.tif',
                         encode(white, '.tif'))
    out = tmp_path / 'out'
    counts = tool.convert(
        'potsdam', str(src), str(out), bit_depth=tile.bit_depth)
    assert counts['train'] == 1
    (name, ) = os.listdir(out / 'img_dir' / 'train')
    return cv2.imread(
        str(out / 'img_dir' / 'train' / name), cv2.IMREAD_UNCHANGED)


class _Captured(Exception):
    """Stops infer_large once the first window reached the model."""


def via_infer_large(tile, tmp_path, monkeypatch):
    pytest.importorskip('mmdet')
    tool = load_tool('infer_large.py', '_image_io_infer_large')
    config = tmp_path / 'det.py'
    config.write_text(
        "default_scope = 'mmdet'\nmodel = dict(type='MaskRCNN')\n"
        'test_dataloader = dict(dataset=dict(\n'
        "    type='sparse_backbones.DOTADataset',\n"
        "    pipeline=[dict(type='LoadImageFromFile'),\n"
        "              dict(type='PackDetInputs', meta_keys=('img_id',))]))\n")
    checkpoint = tmp_path / 'model.pth'
    checkpoint.write_bytes(b'')
    image = write(tmp_path / f'scene{tile.ext}', tile.bytes)
    seen = []

    def predict_tile(model, pipeline, window):
        # What the network receives: the window through the config's test
        # pipeline (which infer_large starts with LoadImageFromNDArray).
        seen.append(pipeline(dict(img=window, img_id=0))['inputs'])
        raise _Captured

    monkeypatch.setattr(tool, 'build_model',
                        lambda cfg, *args: SimpleNamespace(cfg=cfg))
    monkeypatch.setattr(tool, 'predict_tile', predict_tile)
    monkeypatch.setattr(tool, 'check_checkpoint_fits', lambda *args: None)
    monkeypatch.setattr(tool, 'keep_freed_memory', lambda: None)
    with pytest.raises(_Captured):
        tool.main([
            str(config),
            str(checkpoint), image, '--tile', '64', '--overlap', '0',
            '--bit-depth', str(tile.bit_depth),
            '--no-progress', '--no-deploy', '--out-dir',
            str(tmp_path / 'out')
        ])
    return seen[0].permute(1, 2, 0).numpy()


def via_visualize(tile, tmp_path, monkeypatch):
    from sparse_backbones.visualization import load_image
    image = write(tmp_path / f'v{tile.ext}', tile.bytes)
    inputs, rgb = load_image(
        image, (0., 0., 0.), (1., 1., 1.), bit_depth=tile.bit_depth)
    # The tensor the backbone gets is the drawn RGB image, normalised.
    np.testing.assert_array_equal(inputs[0].permute(1, 2, 0).numpy(),
                                  rgb.astype(np.float32))
    return rgb[..., ::-1]


def via_visualize_tool(tile, tmp_path, monkeypatch):
    """tools/visualize.py hands load_image's tensor to the drawer."""
    import torch
    tool = load_tool('visualize.py', '_image_io_visualize')
    image = write(tmp_path / f'v{tile.ext}', tile.bytes)
    seen = []
    monkeypatch.setattr(
        tool, 'load_backbone', lambda *args:
        (None, dict(mean=(0., 0., 0.), std=(1., 1., 1.))))
    monkeypatch.setattr(
        tool, 'enable_safe_checkpoint_loading', lambda: None, raising=False)
    monkeypatch.setattr(
        tool, 'get_drawer', lambda design: lambda backbone, inputs, rgb, out,
        **kwargs: seen.append((inputs, rgb)))
    tool.main([
        'dge', 'cfg.py', 'none', image, '--out', 'x.png', '--bit-depth',
        str(tile.bit_depth)
    ])
    inputs, rgb = seen[0]
    assert torch.equal(inputs[0].permute(1, 2, 0),
                       torch.from_numpy(rgb).float())
    return rgb[..., ::-1]


READERS = {
    'image_io.read_image': via_image_io,
    'AIDDataset (mmpretrain)': via_aid_dataset,
    'DOTADataset (mmdet)': via_dota_dataset,
    'ISPRSPotsdamDataset (mmseg)': via_potsdam_dataset,
    'demo (prepare_demo config)': via_demo,
    'tools/dataset_converters/dota.py': via_dota_converter,
    'tools/dataset_converters/isaid.py': via_isaid_converter,
    'tools/dataset_converters/isprs.py': via_isprs_converter,
    'tools/infer_large.py': via_infer_large,
    'visualization.load_image': via_visualize,
    'tools/visualize.py': via_visualize_tool,
}


@pytest.mark.parametrize('reader', list(READERS))
def test_every_entry_point_hands_on_the_same_pixels(reader, tile, tmp_path,
                                                    monkeypatch):
    """The same 16-bit single-band / RGB tile gives the identical uint8 array
    through every entry point that reads images."""
    pixels = np.asarray(READERS[reader](tile, tmp_path, monkeypatch))
    assert pixels.dtype == np.uint8 and pixels.shape == (H, W, 3), (
        reader, pixels.dtype, pixels.shape)
    np.testing.assert_array_equal(pixels, tile.expected, err_msg=reader)


@pytest.mark.parametrize('reader', list(READERS))
def test_every_entry_point_reads_12bit_data_with_bit_depth_12(
        reader, tile12, tmp_path, monkeypatch):
    """12-bit data in a 16-bit file, with each entry point's bit-depth
    option: the same full-range uint8 pixels everywhere."""
    pixels = np.asarray(READERS[reader](tile12, tmp_path, monkeypatch))
    assert pixels.shape == (H, W, 3), (reader, pixels.shape)
    np.testing.assert_array_equal(pixels, tile12.expected, err_msg=reader)
    assert pixels.max() == 255  # 4095: full range, not near-black


def test_the_tile_tells_the_policies_apart():
    """The equality test can fail: the other policies seen in the code give
    other pixels on the tile."""
    data = tile16(3).astype(np.float64)
    expected = expected_bgr(tile16(3))
    stretched = np.rint(data * 255 / data.max()).astype(np.uint8)
    low, high = np.percentile(data, (1, 99))
    clipped = np.clip((data - low) / (high - low) * 255, 0,
                      255).astype(np.uint8)
    shifted = (tile16(3) >> 8).astype(np.uint8)  # cv2 IMREAD_COLOR
    for other in (stretched, clipped, shifted):
        assert (other != expected).any()


# ------------------------------------------------------ image_io policy --
def test_8bit_is_kept_as_it_is():
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    np.testing.assert_array_equal(image_io.to_uint8(bgr), bgr)
    np.testing.assert_array_equal(
        image_io.decode_image(encode(bgr, '.png')), bgr)
    np.testing.assert_array_equal(
        image_io.decode_image(encode(bgr, '.png'), channel_order='rgb'),
        bgr[..., ::-1])


def test_16bit_policy_values():
    values = np.array([0, 128, 129, 257, 385, 386, 32896, 65534, 65535],
                      np.uint16)
    np.testing.assert_array_equal(
        image_io.to_uint8(values[None])[0, :, 0],
        [0, 0, 1, 1, 1, 2, 128, 255, 255])
    # 8-bit data stored as 16 bits (value * 257) comes back unchanged.
    eight = np.arange(256, dtype=np.uint16)
    np.testing.assert_array_equal(
        image_io.to_uint8((eight * 257)[None])[0, :, 0], eight)
    # Every 16-bit value against the float formula.
    every = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    np.testing.assert_array_equal(
        image_io.to_uint8(every)[..., 0], policy(every))


def test_16bit_policy_is_tile_independent():
    """A tile of a scene gets the same pixels as the scene has there, and
    the result does not depend on the other pixels of the image."""
    rng = np.random.default_rng(1)
    scene = rng.integers(0, 3000, (40, 40), dtype=np.uint16)
    scene[:20] += 30000  # a bright half: per-image stretching would differ
    whole = image_io.to_uint8(scene)
    np.testing.assert_array_equal(image_io.to_uint8(scene[20:]), whole[20:])
    np.testing.assert_array_equal(image_io.to_uint8(scene[:20]), whole[:20])


def test_bit_depth_is_one_fixed_scale():
    values = np.array([[0, 2048, 4095, 5000]], np.uint16)
    np.testing.assert_array_equal(
        image_io.to_uint8(values, bit_depth=12)[0, :, 0],
        [0, 128, 255, 255])  # 2048 * 255 / 4095 = 127.5 -> 128; saturates
    np.testing.assert_array_equal(
        image_io.to_uint8(values, bit_depth=16)[0, :, 0], [0, 8, 16, 19])
    for bad in (7, 17, 12.0, True):
        with pytest.raises(ValueError, match='bit_depth'):
            image_io.to_uint8(values, bit_depth=bad)
    with pytest.raises(ValueError, match='channel_order'):
        image_io.to_uint8(values, channel_order='RGB')


def test_bands(tmp_path):
    grey = np.array([[0, 100], [200, 255]], np.uint8)
    for image in (grey, grey[..., None], np.stack([grey, grey * 0], -1)):
        out = image_io.to_uint8(image)
        assert out.shape == (2, 2, 3)
        np.testing.assert_array_equal(out, np.repeat(grey[..., None], 3, 2))
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[..., 0], bgra[..., 1], bgra[..., 2] = 10, 20, 30
    bgra[0, 0, 3] = 255  # the alpha band is dropped, not applied
    for ext in ('.png', '.tif'):
        out = image_io.read_image(
            write(tmp_path / f'rgba{ext}', encode(bgra, ext)))
        np.testing.assert_array_equal(out, bgra[..., :3])
    # A 16-bit grey file: 3 equal channels of value / 257.
    grey16 = np.array([[0, 1000], [40000, 65535]], np.uint16)
    out = image_io.read_image(
        write(tmp_path / 'g16.png', encode(grey16, '.png')))
    np.testing.assert_array_equal(out[..., 0], policy(grey16))
    assert (out == out[..., :1]).all()


def test_five_or_more_bands_are_a_clear_error():
    with pytest.raises(
            ValueError,
            match=r"'ms.tif' has 5 bands.*"
            r'gdal_translate -b 3 -b 2 -b 1'):
        image_io.to_uint8(np.zeros((4, 4, 5), np.uint16), 'ms.tif')


def test_float_and_signed_pixels_are_a_clear_error(tmp_path):
    path = write(tmp_path / 'f.tif',
                 encode(np.full((4, 4), 0.5, np.float32), '.tif'))
    with pytest.raises(
            ValueError,
            match=r'floating-point pixels \(float32\)'
            r'.*gdal_translate -ot UInt16'):
        image_io.read_image(path)
    with pytest.raises(ValueError, match=r'int16.*Convert it first'):
        image_io.to_uint8(np.zeros((4, 4), np.int16), 'dsm.tif')


def test_unreadable_and_missing_files_are_clear_errors(tmp_path):
    path = write(tmp_path / 'broken.png', b'not an image')
    with pytest.raises(
            ValueError,
            match=r"Cannot decode the image .*"
            r"broken.png'.*PNG, JPEG, TIFF"):
        image_io.read_image(path)
    with pytest.raises(ValueError, match='Cannot decode'):
        image_io.decode_image(b'', 'empty.png')
    with pytest.raises(FileNotFoundError, match='missing.png'):
        image_io.read_image(str(tmp_path / 'missing.png'))
    with pytest.raises(ValueError, match='Cannot decode the label image'):
        image_io.read_label(path)
    with pytest.raises(ValueError, match='header'):
        image_io.image_size(path)


def _palette_png(tmp_path) -> tuple:
    index = (np.arange(6 * 7).reshape(6, 7) % 5).astype(np.uint8)
    image = Image.fromarray(index, 'P')
    palette = [10, 20, 30, 40, 50, 60, 70, 80, 90, 1, 2, 3, 200, 100, 0]
    image.putpalette(palette)
    path = str(tmp_path / 'palette.png')
    image.save(path)
    return path, index, np.array(palette, np.uint8).reshape(-1, 3)


def test_palette_labels_keep_their_indices(tmp_path):
    path, index, palette = _palette_png(tmp_path)
    label = image_io.read_label(path)
    assert label.dtype == np.uint8 and label.shape == (6, 7)
    np.testing.assert_array_equal(label, index)
    with open(path, 'rb') as f:
        np.testing.assert_array_equal(image_io.decode_label(f.read()), index)
    # Read as an image, the palette gives the colours.
    np.testing.assert_array_equal(
        image_io.read_image(path, channel_order='rgb'), palette[index])
    # A 16-bit label map keeps its values (never scaled).
    label16 = np.array([[0, 300], [1000, 65535]], np.uint16)
    path16 = write(tmp_path / 'l16.png', encode(label16, '.png'))
    np.testing.assert_array_equal(image_io.read_label(path16), label16)


def test_colour_labels_keep_exact_colours(tmp_path):
    path, index, palette = _palette_png(tmp_path)
    with open(path, 'rb') as f:
        data = f.read()
    np.testing.assert_array_equal(
        image_io.decode_color_label(data), palette[index])
    np.testing.assert_array_equal(
        image_io.decode_color_label(data, channel_order='bgr'),
        palette[index][..., ::-1])
    rgb = palette[index]
    as16 = encode(rgb[..., ::-1].astype(np.uint16), '.png')  # 8-bit values
    np.testing.assert_array_equal(image_io.decode_color_label(as16), rgb)
    with pytest.raises(ValueError, match='exact 8-bit colours'):
        image_io.decode_color_label(
            encode(np.full((2, 2, 3), 1000, np.uint16), '.png'), 'l.png')


def _jpeg_rotated_by_exif(tmp_path) -> tuple:
    """A 8x4 (HxW) JPEG whose EXIF says 'rotate 90 degrees to display'."""
    stored = np.zeros((8, 4, 3), np.uint8)
    stored[:4] = 255  # bright top half, as stored
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    path = str(tmp_path / 'exif.jpg')
    image.save(path, exif=exif, quality=100)
    return path, np.array(Image.open(path).convert('RGB'))


def test_exif_orientation_is_ignored(tmp_path):
    """Pixels come in stored order (as label maps and annotations are)."""
    path, stored = _jpeg_rotated_by_exif(tmp_path)
    image = image_io.read_image(path, channel_order='rgb')
    assert image.shape == (8, 4, 3)
    np.testing.assert_array_equal(image, stored)
    assert image_io.image_size(path) == (4, 8)
    # mmcv's default loader would rotate it, hence our loading transform.
    mmcv = pytest.importorskip('mmcv')
    with open(path, 'rb') as f:
        assert mmcv.imfrombytes(f.read()).shape == (4, 8, 3)
    from sparse_backbones.datasets.loading import LoadRSImageFromFile
    loaded = LoadRSImageFromFile()(dict(img_path=path))['img']
    np.testing.assert_array_equal(loaded, stored[..., ::-1])


# ------------------------------------------------------- loading transform --
def test_loading_transform_matches_image_io(tmp_path):
    pytest.importorskip('mmcv')
    from mmengine.registry import TRANSFORMS

    from sparse_backbones.datasets.loading import LoadRSImageFromFile
    data = tile16(1)
    path = write(tmp_path / 'g.png', encode(data, '.png'))
    transform = TRANSFORMS.build(
        dict(type='sparse_backbones.LoadRSImageFromFile', to_float32=True))
    assert isinstance(transform, LoadRSImageFromFile)
    results = transform(dict(img_path=path))
    assert results['img'].dtype == np.float32
    assert results['img_shape'] == results['ori_shape'] == (H, W)
    np.testing.assert_array_equal(results['img'], expected_bgr(data))
    twelve = LoadRSImageFromFile(bit_depth=12)(dict(img_path=path))['img']
    np.testing.assert_array_equal(twelve,
                                  image_io.read_image(path, bit_depth=12))
    assert LoadRSImageFromFile(ignore_empty=True)(
        dict(img_path=str(tmp_path / 'missing.png'))) is None
    with pytest.raises(ValueError, match='bit_depth'):
        LoadRSImageFromFile(bit_depth=20)


def test_route_image_loading_replaces_only_the_plain_loader():
    pytest.importorskip('mmcv')
    from mmcv.transforms import LoadImageFromFile

    from sparse_backbones.datasets.loading import (LoadRSImageFromFile,
                                                   route_image_loading)
    pack = dict(type='PackInputs')
    routed = route_image_loading([
        dict(type='LoadImageFromFile', backend_args=None, to_float32=True),
        pack,
        dict(type='mmdet.LoadImageFromFile', color_type='color'),
        dict(type=LoadImageFromFile),
        dict(type='LoadImageFromFile', color_type='unchanged'),
        dict(type='LoadImageFromFile', imdecode_backend='tifffile'),
    ])
    assert routed[0] == dict(
        type=LoadRSImageFromFile, backend_args=None, to_float32=True)
    assert routed[1] is pack
    assert routed[2] == dict(type=LoadRSImageFromFile)
    assert routed[3] == dict(type=LoadRSImageFromFile)
    # An explicit decoding choice is left alone.
    assert routed[4]['type'] == 'LoadImageFromFile'
    assert routed[5]['type'] == 'LoadImageFromFile'
    assert route_image_loading(None) == []


def test_every_dataset_class_loads_with_image_io():
    pytest.importorskip('mmdet')
    pytest.importorskip('mmseg')
    pytest.importorskip('mmpretrain')
    from sparse_backbones import datasets
    from sparse_backbones.datasets.loading import RSImageLoadingMixin
    names = [
        'AIDDataset', 'NWPURESISC45Dataset', 'UCMercedDataset', 'DOTADataset',
        'DOTAv15Dataset', 'ISAIDDataset', 'ISPRSPotsdamDataset',
        'ISPRSVaihingenDataset'
    ]
    for name in names:
        assert issubclass(getattr(datasets, name), RSImageLoadingMixin), name


def test_image_io_needs_no_host_library():
    """image_io is plain cv2/numpy/PIL: importable where no host is."""
    source = (REPO / 'sparse_backbones/datasets/image_io.py').read_text()
    for host in ('mmcv', 'mmdet', 'mmseg', 'mmpretrain', 'mmengine', 'torch'):
        assert f'import {host}' not in source and f'from {host}' not in source
