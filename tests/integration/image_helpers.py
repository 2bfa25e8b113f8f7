"""Session fixtures that put the project's images on the test engine.

scripts/image.sh builds them (debootstrap -> docker import -> docker
build) and keeps the debootstrapped root and a `docker save` of every
image in its cache (PRESS_CACHE_DIR, default ~/.cache/pressctl): the first
session on a machine builds, later ones load. Within a session each fixture
runs the script once; test_packaging.py and test_compose.py share them.
"""

import os
import subprocess
import time

import pytest

from services import REPO

IMAGE_SH = REPO / "scripts" / "image.sh"


def _image_sh(services, what):
    t0 = time.monotonic()
    env = {**os.environ, "DOCKER_HOST": services.docker_host,
           "DOCKER_CONFIG": str(services.dir / "docker-config")}
    proc = subprocess.run([str(IMAGE_SH), what], env=env, capture_output=True,
                          text=True, timeout=1800)
    if proc.returncode != 0:
        pytest.fail(f"scripts/image.sh {what} failed (exit {proc.returncode}):\n"
                    f"{proc.stderr[-6000:]}", pytrace=False)
    print(f"scripts/image.sh {what}: {time.monotonic() - t0:.0f} s")
    return proc


@pytest.fixture(scope="session")
def pressctl_image(services):
    """pressctl:VERSION and pressctl:latest on the session's engine."""
    _image_sh(services, "pressctl")
    return "pressctl:latest"


@pytest.fixture(scope="session")
def local_images(services, pressctl_image):
    """pressctl and the images of compose/compose.local.yaml."""
    _image_sh(services, "local")
    return pressctl_image
