"""`labsim build` / `up` rebuild a PC or DNS image when its sources or its base image change, not otherwise."""

from unittest.mock import MagicMock

from labsim import labels
from labsim.engine import ImageInfo
from labsim.images import ensure_images
from labsim.profiles import get_profile


def _engine(base_id: str, built: dict[str, str]) -> MagicMock:
    """An engine whose base image has ``base_id`` and whose labsim images carry the build hashes in ``built``."""
    engine = MagicMock()

    def image(ref):
        if ref == get_profile("debian").base_image:
            return ImageInfo(base_id, {}, 1)
        return ImageInfo(f"sha256:{ref}", {labels.BUILD_HASH: built[ref]}, 1) if ref in built else None

    def build_image(context, tag, target, buildargs, image_labels, on_line=None, no_cache=False):
        built[tag] = image_labels[labels.BUILD_HASH]

    engine.image.side_effect = image
    engine.build_image.side_effect = build_image
    return engine


def test_a_new_base_image_rebuilds_the_images_made_from_it():
    profile, built = get_profile("debian"), {}
    first = ensure_images(_engine("sha256:base-1", built), profile, ("configured",))
    assert all(r.built for r in first)
    again = ensure_images(_engine("sha256:base-1", built), profile, ("configured",))
    assert not any(r.built for r in again), "nothing changed, nothing is rebuilt"
    after_new_base = ensure_images(_engine("sha256:base-2", built), profile, ("configured",))
    assert all(r.built for r in after_new_base), "images made from the old base were kept"
