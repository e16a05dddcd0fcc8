"""What a model was made for against what it is given: the data kind, the pattern size and the resize
that extraction applies (extract.prepare_batch), said before extracting and recorded in the latents file.

    preprocessing(info.item_shape, model.input_spec)  -> {"source_size": [120, 120], "model_size": [60, 60],
                                                          "resized": True, "resize": "bilinear", ...}
    domain_warnings(info, model)                       -> ["the model was trained on EBSD patterns ..."]
"""
from __future__ import annotations

from .data.base import SourceInfo, registered_readers
from .models.base import InputSpec, LoadedModel

EBSD, CUTOUTS = "EBSD patterns", "SST cutouts"
# what each architecture of this package is trained on: the VAE by `train-vae` on scan patterns (its
# checkpoint records the pattern size), Nenya's SSL ResNet on preprocessed sea-surface-temperature cutouts
ARCH_KINDS = {"vae": EBSD, "nenya": CUTOUTS}


def data_kind(info: SourceInfo | dict) -> str | None:
    """EBSD patterns (a scan with a grid), SST cutouts (Nenya/ulmo preprocessed files), else None
    (images, videos, features: their kind is not known)."""
    info = info if isinstance(info, dict) else info.to_dict()
    if info.get("format") == "nenya":
        return CUTOUTS
    if info.get("grid_shape") and not info.get("is_features"):
        return EBSD
    if info.get("is_features"):
        return latents_kind(info.get("extra") or {})
    return None


def latents_kind(attrs: dict) -> str | None:
    """The data kind behind a latents file: recorded at extraction (`data_kind`), else read from the
    source format it names; None when neither says."""
    if attrs.get("data_kind"):
        return attrs["data_kind"]
    source_format = attrs.get("source_format")
    scans = {reader.format_name for reader in registered_readers() if reader.ebsd_scan}
    return CUTOUTS if source_format == "nenya" else EBSD if source_format in scans else None


def model_domain(model: LoadedModel) -> dict:
    """{"data_kind", "pattern_size"} the model was made for (None where not recorded). TorchScript
    models may state theirs in their options JSON (`data_kind`, `input_size`)."""
    kind = ARCH_KINDS.get(model.arch, model.options.get("data_kind"))
    size = model.input_spec.size
    return {"data_kind": kind, "pattern_size": list(size) if size else None}


def preprocessing(item_shape, spec: InputSpec) -> dict:
    """What extraction does to each item before the model: crop, resize, normalisation."""
    source = [int(s) for s in item_shape[-2:]] if len(item_shape) >= 3 else None
    after_crop = [spec.crop, spec.crop] if spec.crop and source else source
    model = list(spec.size) if spec.size else after_crop
    resized = bool(source and model and after_crop != model)
    return {"source_size": source, "crop": spec.crop, "model_size": model, "resized": resized,
            "resize": "bilinear" if resized else None, "normalize": spec.normalize}


def describe_preprocessing(record: dict) -> str:
    """One sentence for the Extract page and captions."""
    if not record.get("source_size"):
        return f"Normalisation: {record.get('normalize')}."
    source = " x ".join(map(str, record["source_size"]))
    crop = f", centre-cropped to {record['crop']} x {record['crop']}" if record.get("crop") else ""
    if record.get("resized"):
        model = " x ".join(map(str, record["model_size"]))
        change = f"resized ({record['resize']}) from {source}{crop} to the model's {model}"
    else:
        change = f"kept at {source} pixels{crop} (the model's size)"
    return f"Each item is {change}; normalisation: {record['normalize']}."


def domain_warnings(info: SourceInfo | dict, model: LoadedModel) -> list[str]:
    """Where the data differs from what the model was made for (kind, pattern size), in words."""
    info = info if isinstance(info, dict) else info.to_dict()
    domain, kind = model_domain(model), data_kind(info)
    warnings = []
    if domain["data_kind"] and kind and domain["data_kind"] != kind:
        warnings.append(f"The model ({model.name}) was trained on {domain['data_kind']} but the data are {kind}: "
                        "its latents may mean little here.")
    record = preprocessing(tuple(info.get("item_shape") or ()), model.input_spec)
    if record["resized"]:
        warnings.append(f"The data's {' x '.join(map(str, record['source_size']))} items are resized to the "
                        f"{' x '.join(map(str, record['model_size']))} pixels the model was trained on.")
    return warnings


def extraction_attrs(info: SourceInfo, model: LoadedModel) -> dict:
    """The latents attributes that record the source's units and the preprocessing: the pattern
    corrections the model was trained with, then crop, resize and normalisation."""
    attrs = {"preprocessing": {**model.preprocessing, **preprocessing(info.item_shape, model.input_spec)},
             "data_kind": data_kind(info) or "", "model_domain": model_domain(model)}
    if info.units:
        attrs["units"] = info.units
    if info.step:
        attrs["step"] = list(info.step)
    return attrs
