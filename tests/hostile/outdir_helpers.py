"""A small real image for output-directory tests: a tar of a tiny rootfs (passwd, shadow, an init
script), made with tarfile at test time."""
import io
import tarfile
from pathlib import Path


def tiny_image(path: Path, hostname: str = "router") -> Path:
    files = {"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n", "etc/shadow": "root::19000:0:99999:7:::\n",
             "etc/hostname": hostname + "\n", "etc/init.d/rcS": "#!/bin/sh\ntelnetd -l /bin/sh\n"}
    with tarfile.open(path, "w") as t:
        for name, text in files.items():
            data = text.encode()
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o755 if "init.d" in name else 0o644
            t.addfile(ti, io.BytesIO(data))
    return path
