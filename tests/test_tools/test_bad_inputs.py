# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The bad-input suite (issue 21): one row per bad input a user can hand
the tools, with how it is made and passed, the outcome the tool must give
and the words its message must (and must not) contain.

The outcome is an exception class (exactly what ``main(argv)`` raises,
the last line of the traceback), an exit status (``main``'s return value or
``SystemExit``'s code; ``sys.exit('message')`` is 1), or a warning class
(the call succeeds and warns). The message is the exception's, the
captured stdout and stderr for an exit status, the warnings' for a warning.
The words say what is wrong and how to fix it; ``re`` patterns stand for
counts and sizes. A row may check more afterwards (``then``): that a
payload never ran, that nothing was written, that a rerun redid the work.

The tools run in this process, in a working folder shared by all rows (the
``--demo`` data is generated once); the inputs are built by
``bad_input_cases.py``.
"""
import os
import re
import warnings
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple, Type, Union

import pytest
import torch

from .bad_input_cases import (GETATTR_TARGETS, LIT_CONVERTER,
                              OTHER_DESIGN_CONFIG, POTSDAM_IMAGE,
                              POTSDAM_LABEL, RANDOM_SEEDS, Bench, Call,
                              Shared, encode, image_file, isprs_label,
                              jpeg_label, named_configs_exist,
                              off_palette_label, truncated, without)

Word = Union[str, re.Pattern]
Expected = Union[Type[BaseException], Type[Warning], int]


@dataclass(frozen=True)
class Row:
    id: str
    call: Call  # makes the bad input and hands it to the tool
    expect: Expected
    words: Sequence[Word]
    absent: Sequence[str] = ()
    then: Optional[Callable[[Bench], None]] = None


def _count(what: str) -> re.Pattern:
    return re.compile(r'\b\d+ ' + re.escape(what))


# ------------------------------------------------------- shared word lists --
DOES_NOT_FIT = ('does not fit the model of the config',
                'trained with this config')
MISSING_AND_UNEXPECTED = (_count('missing keys'),
                          _count('keys the model does not have'))
PREFIXED = DOES_NOT_FIT + MISSING_AND_UNEXPECTED + (
    "carry the prefix 'model.'", )
OTHER_DESIGN = DOES_NOT_FIT + MISSING_AND_UNEXPECTED
OTHER_CLASSES = DOES_NOT_FIT + (
    '2 keys with other shapes',
    'head.fc.weight: checkpoint (7, 320) vs model (30, 320)',
    "load_from_new_modules=['head']")
# Unreadable files: what the file is, and what was expected instead.
TORCH_SAVE = 'expected a file written by torch.save'
EMPTY = ('empty.pth is empty (0 bytes)', TORCH_SAVE)
NOT_A_CHECKPOINT = ('is not a checkpoint torch can read', TORCH_SAVE)
TEXT = ('text.pth', ) + NOT_A_CHECKPOINT
RANDOM_BYTES = ('random-bytes.pth', ) + NOT_A_CHECKPOINT
TRUNCATED = ('truncated.pth', 'failed reading zip archive') + NOT_A_CHECKPOINT
# A checkpoint that would run code: the global, the danger, no way round.
RUNS_CODE = (f'{os.system.__module__}.system', 'Unpickling them runs '
             'whatever code they name', 'was not loaded')
# Neither spelled out nor in torch's words ("`weights_only` set to `False`").
NO_UNRESTRICTED_LOAD = ('weights_only=False', 'set to `False`')
# A note that read oddly after any refusal.
ODD_NOTE = ('writes such files', )
# The restricted getattr's refusal: the object and attribute, the danger.
def _getattr_refused(target: str) -> Tuple[str, ...]:
    obj, name = GETATTR_TARGETS[target]
    return (f'getattr({obj.__module__}.{obj.__qualname__}, {name!r})',
            'which runs code', 'was not loaded')


LIT_EXPECTED = ('expected the keys of an official LIT checkpoint',
                'lit_ti.pth', 'layers.0.blocks.0.')
CANNOT_DECODE = ('Cannot decode the image', 'not a complete image file')


def _refused_payload(bench: Bench) -> None:
    bench.payload_did_not_run()
    bench.nothing_converted()


def _resplit(bench: Bench) -> None:
    labels = bench.dota_patch_labels()
    assert 'helicopter' in labels and 'plane' not in labels, labels


def _pooled_from_last_stage(bench: Bench) -> None:
    assert bench.result.out_indices == (3, )


def _aid_config_found(bench: Bench) -> None:
    named = named_configs_exist(bench.output)
    assert [os.path.basename(p)
            for p in named] == ['nwpu_train10.py', 'nwpu_train20.py']


def _no_gpu(bench: Bench) -> None:
    """What a machine without an accelerator reports, on any machine."""
    bench.monkeypatch.setattr(
        bench.tool('train.py'), 'get_device', lambda: 'cpu')
    bench.monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)


def _without_gpu(call: Call) -> Call:

    def run(bench: Bench):
        _no_gpu(bench)
        return call(bench)

    return run


# Each row: its id; the call that makes the bad input and hands it to the
# tool; the outcome; the words the message must contain; optionally the
# words it must not contain and what else must hold afterwards.
# yapf: disable
ROWS = [
    # ---------------------------- checkpoints that do not fit (issue 21, 1) --
    Row('test.py/keys-prefixed-model',
        lambda b: b.test_py(b.checkpoint('prefixed')),
        ValueError, PREFIXED),
    Row('test.py/other-design',
        lambda b: b.test_py(b.checkpoint('other-design')),
        ValueError, OTHER_DESIGN),
    Row('test.py/head-of-other-classes',
        lambda b: b.test_py(b.checkpoint('other-classes')),
        ValueError, OTHER_CLASSES),
    Row('train.py/load_from-other-design',
        lambda b: b.train_py(
            cfg_options=[f'load_from={b.checkpoint("other-design")}']),
        ValueError, OTHER_DESIGN),
    Row('train.py/load_from-head-of-other-classes',
        lambda b: b.train_py(
            cfg_options=[f'load_from={b.checkpoint("other-classes")}']),
        ValueError, OTHER_CLASSES),
    Row('train.py/resume-other-design',
        lambda b: b.train_py('--resume', b.checkpoint('other-design')),
        ValueError, OTHER_DESIGN),
    Row('infer_large.py/classifier-checkpoint-for-detector',
        lambda b: b.infer_large(b.checkpoint('other-design')),
        ValueError, OTHER_DESIGN),
    Row('visualize.py/other-design',
        lambda b: b.visualize(b.checkpoint('other-design')),
        ValueError, OTHER_DESIGN),
    Row('init_cfg-Pretrained/other-design',
        lambda b: b.pretrained_backbone(b.checkpoint('other-design')),
        KeyError, ('does not fit LeMeViT', _count('missing keys'),
                   'same variant', 'init_cfg.prefix')),
    Row('init_cfg-Pretrained/keys-prefixed-model',
        lambda b: b.pretrained_backbone(b.checkpoint('prefixed')),
        KeyError, ('does not fit LeMeViT', _count('missing keys'),
                   "carry the prefix 'model.backbone.'", 'init_cfg.prefix')),
    # ------------------------------------------ unreadable checkpoints --
    *[
        Row(f'{tool}/{kind}-file',
            call(kind),
            ValueError, ('cannot read the checkpoint', ) + words, ODD_NOTE)
        for kind, words in (('text', TEXT), ('random-bytes', RANDOM_BYTES),
                            ('empty', EMPTY), ('truncated', TRUNCATED))
        for tool, call in (
            ('test.py',
             lambda kind: lambda b: b.test_py(b.checkpoint(kind))),
            ('train.py--resume',
             lambda kind: lambda b: b.train_py('--resume',
                                               b.checkpoint(kind))),
            ('init_cfg-Pretrained',
             lambda kind: lambda b: b.pretrained_backbone(
                 b.checkpoint(kind))))
    ],
    Row('init_cfg-Pretrained/text-h-file',
        lambda b: b.pretrained_backbone(b.checkpoint('text-h')),
        ValueError, ('cannot read the checkpoint', 'text-h.pth') +
        NOT_A_CHECKPOINT),
    Row('converter/text-file',
        lambda b: b.convert(b.checkpoint('text')),
        1, ('error: ', ) + TEXT, then=Bench.nothing_converted),
    Row('converter/text-h-file',
        lambda b: b.convert(b.checkpoint('text-h')),
        1, ('error: ', 'text-h.pth') + NOT_A_CHECKPOINT,
        then=Bench.nothing_converted),
    Row('converter/empty-file',
        lambda b: b.convert(b.checkpoint('empty')),
        1, ('error: ', ) + EMPTY, then=Bench.nothing_converted),
    Row('converter/truncated',
        lambda b: b.convert(b.checkpoint('truncated')),
        1, ('error: ', ) + TRUNCATED, then=Bench.nothing_converted),
    *[
        Row(f'converter/random-bytes-{seed}',
            lambda b, seed=seed: b.convert(
                b.checkpoint(f'random-bytes-{seed}')),
            1, ('error: ', f'random-bytes-{seed}.pth') + NOT_A_CHECKPOINT,
            then=Bench.nothing_converted)
        for seed in RANDOM_SEEDS
    ],
    Row('test.py/not-a-state-dict',
        lambda b: b.test_py(b.checkpoint('not-a-state-dict')),
        ValueError, ('holds a list',
                     'not a state dict or a training checkpoint')),
    # ---------------------------------- malicious checkpoints (issue 21, 5) --
    Row('test.py/reduce-payload',
        lambda b: b.test_py(b.payload()),
        ValueError, RUNS_CODE, NO_UNRESTRICTED_LOAD + ODD_NOTE,
        Bench.payload_did_not_run),
    Row('train.py--resume/reduce-payload',
        lambda b: b.train_py('--resume', b.payload()),
        ValueError, RUNS_CODE, NO_UNRESTRICTED_LOAD + ODD_NOTE,
        Bench.payload_did_not_run),
    Row('train.py-load_from/reduce-payload',
        lambda b: b.train_py(cfg_options=[f'load_from={b.payload()}']),
        ValueError, RUNS_CODE, NO_UNRESTRICTED_LOAD + ODD_NOTE,
        Bench.payload_did_not_run),
    Row('infer_large.py/reduce-payload',
        lambda b: b.infer_large(b.payload()),
        ValueError, RUNS_CODE, NO_UNRESTRICTED_LOAD + ODD_NOTE,
        Bench.payload_did_not_run),
    Row('visualize.py/reduce-payload',
        lambda b: b.visualize(b.payload()),
        ValueError, RUNS_CODE, NO_UNRESTRICTED_LOAD + ODD_NOTE,
        Bench.payload_did_not_run),
    Row('init_cfg-Pretrained/reduce-payload',
        lambda b: b.pretrained_backbone(b.payload()),
        ValueError, RUNS_CODE, NO_UNRESTRICTED_LOAD + ODD_NOTE,
        Bench.payload_did_not_run),
    # getattr of something else than a HistoryBuffer statistics method
    *[
        Row(f'{tool}/getattr-payload-{target}',
            lambda b, call=call, target=target: call(
                b, b.getattr_payload(target)),
            expect, _getattr_refused(target),
            NO_UNRESTRICTED_LOAD + ODD_NOTE + absent, then)
        for target in GETATTR_TARGETS
        for tool, call, expect, absent, then in (
            ('test.py', Bench.test_py, ValueError, (), None),
            ('train.py--resume',
             lambda b, path: b.train_py('--resume', path),
             ValueError, (), None),
            ('train.py-load_from',
             lambda b, path: b.train_py(cfg_options=[f'load_from={path}']),
             ValueError, (), None),
            ('init_cfg-Pretrained', Bench.pretrained_backbone, ValueError,
             (), None),
            ('converter', Bench.convert, 1, ('torch.load(', ),
             _refused_payload))
    ],
    *[
        Row(f'converter/reduce-payload-{writer.replace(" ", "-")}',
            lambda b, writer=writer: b.convert(b.payload(writer)),
            1, RUNS_CODE + ('keep only its weights', ),
            NO_UNRESTRICTED_LOAD + ('torch.load(', ), _refused_payload)
        for writer in ('zip', 'legacy', 'raw pickle')
    ],
    # ------------------------------------- dataset converters (issue 21, 2) --
    Row('isprs.py/jpeg-label',
        lambda b: b.isprs(b.potsdam(label=jpeg_label())),
        ValueError, (POTSDAM_LABEL, _count('of 4096 pixels'),
                     re.compile(r'\(\d+, \d+, \d+\): \d+'), 'no ISPRS class',
                     'JPEG-compressed', 'original lossless',
                     '--accept-off-palette')),
    Row('isprs.py/off-palette-colour',
        lambda b: b.isprs(b.potsdam(label=off_palette_label())),
        ValueError, (POTSDAM_LABEL, '256 of 4096 pixels',
                     '(10, 20, 30): 256', 'no ISPRS class',
                     '--accept-off-palette'),
        ('JPEG', )),  # one colour of a lossless file: no JPEG to blame
    Row('isprs.py/jpeg-label--accept-off-palette',
        lambda b: b.isprs(b.potsdam(label=jpeg_label()),
                          '--accept-off-palette'),
        0, (f'off-palette pixels in {POTSDAM_LABEL}: ',
            'written as boundary (ignored)', "wrote {'train': 16")),
    Row('isprs.py/out-dir-of-other-clip-size',
        Bench.isprs_over_other_clip_size,
        ValueError, ('holds patches made with other settings',
                     '(clip_size differ', 'another --out-dir',
                     'delete this one')),
    Row('isaid.py/unknown-instance-colour',
        lambda b: b.isaid(b.isaid_root(unknown_colour=True)),
        ValueError, ('P0004_instance_color_RGB.png: 1 of 2 instances',
                     '(9, 8, 7): 1', 'no iSAID class', 'original PNG masks',
                     '--accept-unknown-colours')),
    Row('isaid.py/unknown-instance-colour--accept-unknown-colours',
        lambda b: b.isaid(b.isaid_root(unknown_colour=True),
                          '--accept-unknown-colours'),
        0, ('P0004_instance_color_RGB.png: 1 of 2 instances', 'dropped',
            "'annotations': 1", "'unknown_colour': 1")),
    # An empty image file is as undecodable as a cut one, and says so.
    *[
        Row(f'{tool}/{kind}-image',
            call,
            expect, CANNOT_DECODE + words)
        for kind, damage in (('zero-byte', lambda data: b''),
                             ('truncated', truncated))
        for tool, call, expect, words in (
            ('isprs.py',
             lambda b, damage=damage: b.isprs(
                 b.potsdam(image=damage(image_file(64, '.tif')))),
             ValueError, (POTSDAM_IMAGE, )),
            ('isaid.py',
             lambda b, damage=damage: b.isaid(
                 b.isaid_root(image=damage(image_file(64)))),
             ValueError, ('P0004.png', )),
            ('dota.py',
             lambda b, damage=damage: b.dota(
                 b.dota_split(image=damage(image_file(300)))),
             1, ('failed: ', 'P0001.png: ValueError',
                 '1 image(s) failed (rerun to retry them)')),
            ('infer_large.py',
             lambda b, damage=damage: b.infer_large(
                 b.checkpoint('other-design'),
                 b.file('scene.png', damage(image_file(64)))),
             ValueError, ('scene.png', )))
    ],
    Row('aid.py/run-outside-the-repository',
        Bench.aid_from_outside_the_repository,
        0, ('read by ', 'nwpu_train10.py'), ('no dataset config', ),
        _aid_config_found),
    Row('dota.py/label-file-changed-since-split',
        Bench.dota_after_label_change,
        0, ('1 to go (1 changed since)',
            '1 image(s) split into 4 patch(es)'),
        then=_resplit),
    # ----------------------------------------- training (issue 21, 3 and 6) --
    Row('train.py/work-dir-with-checkpoints',
        Bench.train_over_earlier_checkpoints,
        RuntimeError, ('already holds checkpoints (epoch_3.pth)',
                       '--resume', '--work-dir', '--overwrite')),
    Row('train.py/warm-up-as-long-as-max_epochs',
        lambda b: b.train_py_without_demo('--cfg-options',
                                          'train_cfg.max_epochs=5'),
        ValueError, ('param_scheduler[1] (CosineAnnealingLR)',
                     'from epoch 5 to 5', 'Raise train_cfg.max_epochs',
                     'param_scheduler.0.end=N param_scheduler.1.begin=N '
                     'with N < 5'),
        ('end should be larger than begin', )),
    Row('backbone/out_indices-of-another-stage-with-avg_featmap',
        lambda b: b.backbone(out_indices=(1, ), out_type='avg_featmap'),
        UserWarning, ("out_indices=(1,) is ignored with "
                      "out_type='avg_featmap'", 'pools the last stage',
                      'drop out_indices', "out_type='featmap'"),
        then=_pooled_from_last_stage),
    Row('backbone/out_indices-beyond-the-stages',
        lambda b: b.backbone(out_indices=(5, ), out_type='avg_featmap'),
        ValueError, ('out_indices entry 5 is out of range for 4 stages', )),
    Row('train.py/amp-without-gpu',
        _without_gpu(lambda b: b.train_py_without_demo('--amp')),
        RuntimeError, ('--amp needs a GPU', 'no accelerator is visible',
                       'drop --amp')),
    Row('train.py/missing-dataset',
        lambda b: b.train_py_without_demo(
            '--cfg-options',
            'train_dataloader.dataset.data_root=no_such_dataset'),
        FileNotFoundError, ("dataset path not found: 'no_such_dataset'",
                            'train_dataloader.dataset.data_root',
                            'configs/<task>/README.md',
                            '--cfg-options train_dataloader.dataset.'
                            'data_root=PATH', '--demo')),
    # ---------------------- more bad inputs the tools already explain --
    Row('test.py/missing-checkpoint',
        lambda b: b.test_py(b.path('nowhere.pth')),
        FileNotFoundError, ('checkpoint not found', 'nowhere.pth')),
    Row('train.py/missing-resume-checkpoint',
        lambda b: b.train_py('--resume', b.path('nowhere.pth')),
        FileNotFoundError, ('resume checkpoint not found', 'nowhere.pth')),
    Row('train.py/missing-config',
        lambda b: b.tool('train.py').main([b.path('nowhere.py')]),
        FileNotFoundError, ('config file not found', 'nowhere.py')),
    Row('train.py/slurm-launcher-without-gpu',
        _without_gpu(lambda b: b.train_py_without_demo('--launcher',
                                                       'slurm')),
        RuntimeError, ('--launcher slurm needs CUDA devices', 'torchrun',
                       'tools/dist_train.sh', '--launcher pytorch')),
    Row('test.py/format-only-without-out-dir',
        lambda b: b.test_py(b.checkpoint('empty'), '--format-only'),
        2, ('--format-only and --out-dir go together', )),
    Row('test.py/show-dir-with-tta-for-classification',
        lambda b: b.test_py(b.checkpoint('empty'), '--show-dir',
                            b.path('show'), '--tta'),
        RuntimeError, ('--show-dir cannot be combined with --tta for '
                       'classification', 'run them separately')),
    Row('infer_large.py/classification-config',
        lambda b: b.infer_large(b.checkpoint('empty'),
                                config=OTHER_DESIGN_CONFIG),
        ValueError, ('is a cls config',
                     'detection and segmentation configs')),
    Row('infer_large.py/overlap-not-below-tile',
        lambda b: b.infer_large(b.checkpoint('empty'), None,
                                '--tile', '64', '--overlap', '64'),
        2, ('need --tile > 0 and 0 <= --overlap < --tile', )),
    Row('converter/destination-exists',
        lambda b: b.convert(b.checkpoint('empty'), b.checkpoint('text')),
        1, ('text.pth exists', 'pass --overwrite')),
    Row('converter/destination-is-the-source',
        lambda b: b.convert(b.checkpoint('text'), b.checkpoint('text'),
                            LIT_CONVERTER, '--overwrite'),
        1, ('DST is the source file',
            'write the converted checkpoint elsewhere')),
    Row('converter-lit/no-lit-weights',
        lambda b: b.convert(b.checkpoint('unrelated'), None, LIT_CONVERTER),
        1, ('unrelated.pth holds no LIT weights', ),
        then=Bench.nothing_converted),
    Row('converter-lit/lemevit-checkpoint',
        lambda b: b.convert(b.checkpoint('lemevit'), None, LIT_CONVERTER),
        1, ('lemevit.pth holds no LIT weights',
            'a LeMeViT checkpoint of sparse_backbones') + LIT_EXPECTED,
        then=Bench.nothing_converted),
    Row('converter-lit/official-lemevit-checkpoint',
        lambda b: b.convert(b.checkpoint('official-lemevit'), None,
                            LIT_CONVERTER),
        1, ('official-lemevit.pth holds no LIT weights',
            'an official LeMeViT checkpoint',
            'lemevit_to_sparse_backbones.py') + LIT_EXPECTED,
        then=Bench.nothing_converted),
    Row('isprs.py/label-archive-missing',
        lambda b: b.isprs(without(b.potsdam(),
                                  '5_Labels_all_noBoundary.zip')),
        FileNotFoundError, ('5_Labels_all_noBoundary.zip not found',
                            "['2_Ortho_RGB.zip']", 'ISPRS benchmark page')),
    Row('isprs.py/label-of-other-size',
        lambda b: b.isprs(b.potsdam(label=encode(isprs_label(8), '.tif'))),
        ValueError, (POTSDAM_IMAGE, 'is (64, 64) but', POTSDAM_LABEL,
                     'is (8, 8)', 'must match')),
    Row('isprs.py/out-dir-inside-the-source',
        lambda b: b.isprs(b.potsdam(), out='zips/out'),
        ValueError, ('is inside the source folder',
                     'never write into the downloaded data')),
    Row('isaid.py/mask-missing',
        lambda b: b.isaid(without(b.isaid_root(),
                                  'train/images/P0004_instance_id_RGB.png')),
        FileNotFoundError, ('1 iSAID mask(s) missing',
                            'P0004_instance_id_RGB.png',
                            'download the instance masks')),
    Row('aid.py/source-missing',
        lambda b: b.aid('aid', b.path('nowhere'), '--out-dir', b.path('o')),
        FileNotFoundError, ('AID folder not found', 'nowhere', 'To fix')),
    Row('dota.py/out-dir-inside-the-source',
        lambda b: b.dota(b.dota_split(), out='src/split'),
        2, ('is inside the source folder', 'never writes into its sources')),
    Row('dota.py/test-split-without-labels',
        lambda b: b.dota(b.dota_split(labels=None)),
        2, ('labelTxt', 'not found', '--images-only')),
    Row('dota.py/out-dir-of-other-gaps',
        Bench.dota_over_other_gaps,
        2, ('holds patches made with other settings', '(gaps differ',
            'another --out-dir')),
    Row('dota.py/malformed-label-lines',
        lambda b: b.dota(b.dota_split(
            labels='1 2 3 plane 0\n1 1 5 1 5 5 1 5 UFO 0\n')),
        0, ('P0001.txt:1: expected 10 tokens',
            "P0001.txt:2: unknown class 'UFO'",
            '2 unreadable label line(s) skipped')),
]
# yapf: enable


# ------------------------------------------------------------------ runner --
@dataclass
class Outcome:
    error: Optional[BaseException]
    status: Optional[int]
    output: str
    warnings: Tuple[warnings.WarningMessage, ...]


def run(call: Callable[[], object], capsys) -> Tuple[Outcome, object]:
    """Call a tool; what it raised, its exit status and what it printed."""
    capsys.readouterr()
    result = error = status = None
    exit_message = ''
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try:
            result = call()
            status = result if isinstance(result, int) else 0
        except SystemExit as exit_:
            if isinstance(exit_.code, str):  # sys.exit('message')
                status, exit_message = 1, exit_.code
            else:
                status = exit_.code or 0
        except Exception as raised:  # noqa: BLE001  (the outcome checked)
            error = raised
    out, err = capsys.readouterr()
    return Outcome(error, status, out + err + exit_message,
                   tuple(caught)), result


def message_of(error: BaseException) -> str:
    # KeyError's str() is the repr of its message.
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error)


@pytest.fixture(scope='module')
def shared(tmp_path_factory) -> Shared:
    return Shared(str(tmp_path_factory.mktemp('bad_inputs')))


@pytest.fixture
def bench(shared, tmp_path, monkeypatch) -> Bench:
    monkeypatch.chdir(shared.root)  # --demo writes data/demo here, once
    monkeypatch.setenv('LOCAL_RANK', '0')  # load_config sets it otherwise
    return Bench(shared, str(tmp_path), monkeypatch)


@pytest.mark.parametrize('row', ROWS, ids=[row.id for row in ROWS])
def test_bad_input(row: Row, bench: Bench, capsys):
    outcome, bench.result = run(lambda: row.call(bench), capsys)
    bench.output = outcome.output
    expect = row.expect
    if isinstance(expect, type) and issubclass(expect, Warning):
        assert outcome.error is None, outcome.error
        message = '\n'.join(
            str(w.message) for w in outcome.warnings
            if issubclass(w.category, expect))
        assert message, f'no {expect.__name__}'
    elif isinstance(expect, type):
        # The very class: a subclass (UnicodeDecodeError for ValueError)
        # would be another, unexplained failure.
        assert type(outcome.error) is expect, (
            f'expected {expect.__name__}, got {outcome.error!r} (exit '
            f'{outcome.status}):\n{outcome.output[-3000:]}')
        message = message_of(outcome.error)
    else:
        assert outcome.error is None, outcome.error
        assert outcome.status == expect, outcome.output[-3000:]
        message = outcome.output
    for word in row.words:
        if isinstance(word, str):
            assert word in message, (word, message)
        else:
            assert word.search(message), (word.pattern, message)
    for word in row.absent:
        assert word not in message, (word, message)
    if row.then is not None:
        row.then(bench)


@pytest.mark.parametrize('kind', ['text', 'empty', 'truncated', 'payload',
                                  'getattr-payload'])
def test_pretrained_says_what_the_tools_say(kind, bench, capsys):
    """init_cfg=Pretrained refuses a file in the words of tools/test.py."""
    path = (
        bench.payload() if kind == 'payload' else
        bench.getattr_payload('ndarray.tofile') if kind == 'getattr-payload'
        else bench.checkpoint(kind))
    tool, _ = run(lambda: bench.test_py(path), capsys)
    pretrained, _ = run(lambda: bench.pretrained_backbone(path), capsys)
    assert type(pretrained.error) is type(tool.error) is ValueError, (
        pretrained.error, tool.error)
    assert str(pretrained.error) == str(tool.error)


def test_every_row_has_its_own_id():
    ids = [row.id for row in ROWS]
    assert len(ids) == len(set(ids))
