"""CMIM (thesis ch. 8): cross-modal mutual-information maximisation for training with several
modalities and testing with one.

Segmentation (four MRI sequences, enhancing tumour): :mod:`lococo.cmim.losses` (eq.
8.3.1–8.3.3 as pure functions), :mod:`lococo.cmim.unet`, :mod:`lococo.cmim.seg_models` (CMIM,
HeMIS, mean / MLP imputation, single- and four-modality U-Nets), :mod:`lococo.cmim.seg_train`
(:func:`~lococo.cmim.seg_train.train_seg`) and :mod:`lococo.cmim.seg_evaluate`
(:func:`~lococo.cmim.seg_evaluate.evaluate_seg`).
"""
