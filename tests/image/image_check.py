#!/usr/bin/env python3
"""Checks a built image from its OCI archive (`podman save --format oci-archive`):
configuration, exact file list, the binary inside, and the compressed size.

Usage: image_check.py OCI_ARCHIVE VERSION ARCH REFERENCE_BINARY MAX_COMPRESSED_BYTES
  REFERENCE_BINARY: the stripped static binary the image must contain, byte for byte,
  or - to skip that comparison (an image built by the Dockerfile's own builder stage).
Prints `compressed_bytes=N` on success (layers as stored gzip-compressed, plus config and
manifest: what a registry push transfers and stores).
"""

import hashlib
import json
import stat
import sys
import tarfile

failures = []


def check(ok, message):
    if not ok:
        failures.append(message)


def blob(archive, digest):
    return archive.extractfile("blobs/sha256/" + digest.split(":", 1)[1]).read()


# path -> (type, uid, gid, mode or None, link target or None)
EXPECTED = {
    "app": ("dir", 0, 0, 0o755, None),
    "app/data": ("dir", 10001, 10001, 0o750, None),
    "bin": ("dir", 0, 0, 0o755, None),
    "bin/busybox": ("file", 0, 0, 0o755, None),
    "bin/cat": ("symlink", 0, 0, None, "busybox"),
    "usr": ("dir", 0, 0, 0o755, None),
    "usr/local": ("dir", 0, 0, 0o755, None),
    "usr/local/bin": ("dir", 0, 0, 0o755, None),
    "usr/local/bin/app-rust": ("file", 0, 0, 0o755, None),
}
# Mount points buildah leaves behind after the runtime stage's one RUN step: empty
# directories and empty files that the container runtime mounts over at run time.
ALLOWED_EMPTY_STUBS = {
    "dev": "dir", "proc": "dir", "sys": "dir", "run": "dir", "etc": "dir",
    "etc/hostname": "file", "etc/hosts": "file", "etc/resolv.conf": "file",
}


def kind(member):
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.isreg():
        return "file"
    return "other"


def elf_is_static(data):
    """True when the ELF has no PT_INTERP program header (no dynamic loader needed)."""
    if data[:4] != b"\x7fELF":
        return False
    is64 = data[4] == 2
    little = data[5] == 1
    order = "little" if little else "big"

    def u(off, n):
        return int.from_bytes(data[off:off + n], order)

    phoff = u(0x20, 8) if is64 else u(0x1C, 4)
    phentsize = u(0x36, 2) if is64 else u(0x2A, 2)
    phnum = u(0x38, 2) if is64 else u(0x2C, 2)
    for i in range(phnum):
        if u(phoff + i * phentsize, 4) == 3:  # PT_INTERP
            return False
    return True


def main():
    archive_path, version, arch, reference, max_bytes = sys.argv[1:6]
    max_bytes = int(max_bytes)
    archive = tarfile.open(archive_path)
    index = json.loads(archive.extractfile("index.json").read())
    check(len(index["manifests"]) == 1, f"expected one manifest, got {len(index['manifests'])}")
    manifest_desc = index["manifests"][0]
    manifest_bytes = blob(archive, manifest_desc["digest"])
    manifest = json.loads(manifest_bytes)
    config_bytes = blob(archive, manifest["config"]["digest"])
    config = json.loads(config_bytes)
    c = config.get("config", {})

    check(config.get("os") == "linux", f"os is {config.get('os')}")
    check(config.get("architecture") == arch, f"architecture is {config.get('architecture')}, expected {arch}")
    check(c.get("User") == "10001:10001", f"User is {c.get('User')!r}, expected numeric 10001:10001")
    check(c.get("Entrypoint") == ["/usr/local/bin/app-rust"], f"Entrypoint is {c.get('Entrypoint')}")
    check(c.get("Cmd") == ["serve"], f"Cmd is {c.get('Cmd')}")
    check(c.get("WorkingDir") == "/app", f"WorkingDir is {c.get('WorkingDir')}")
    env = dict(e.split("=", 1) for e in c.get("Env", []))
    check(env.get("DATA_DIR") == "/app/data", f"DATA_DIR is {env.get('DATA_DIR')}")
    check(env.get("APP_LISTEN") == "0.0.0.0:8080", f"APP_LISTEN is {env.get('APP_LISTEN')}")
    check(list(c.get("ExposedPorts", {})) == ["8080/tcp"], f"ExposedPorts is {c.get('ExposedPorts')}")
    check(list(c.get("Volumes", {})) == ["/app/data"], f"Volumes is {c.get('Volumes')}")
    labels = c.get("Labels", {})
    check(labels.get("org.opencontainers.image.version") == version,
          f"version label is {labels.get('org.opencontainers.image.version')}, Cargo.toml says {version}")
    check(labels.get("org.opencontainers.image.licenses") == "MIT", "licenses label is not MIT")
    check(labels.get("org.opencontainers.image.source", "").startswith("https://"), "source label missing")

    seen = {}
    binary = None
    for layer in manifest["layers"]:
        with tarfile.open(fileobj=archive.extractfile("blobs/sha256/" + layer["digest"].split(":", 1)[1])) as lt:
            for m in lt.getmembers():
                name = m.name.lstrip("./").rstrip("/")
                check(".wh." not in name, f"whiteout {name}: the image carries deleted files")
                seen[name] = m
                if name == "usr/local/bin/app-rust" and m.isreg():
                    binary = lt.extractfile(m).read()

    for path, (want_kind, uid, gid, mode, link) in EXPECTED.items():
        m = seen.get(path)
        if m is None:
            failures.append(f"{path} is missing from the image")
            continue
        check(kind(m) == want_kind, f"{path} is a {kind(m)}, expected {want_kind}")
        check((m.uid, m.gid) == (uid, gid), f"{path} is owned by {m.uid}:{m.gid}, expected {uid}:{gid}")
        if mode is not None:
            check(stat.S_IMODE(m.mode) == mode, f"{path} has mode {oct(stat.S_IMODE(m.mode))}, expected {oct(mode)}")
        if link is not None:
            check(m.linkname == link, f"{path} links to {m.linkname}, expected {link}")
    for path, m in seen.items():
        if path in EXPECTED:
            continue
        stub = ALLOWED_EMPTY_STUBS.get(path)
        check(stub is not None and kind(m) == stub and (stub == "dir" or m.size == 0),
              f"unexpected file in the image: {path} ({kind(m)}, {m.size} bytes)")
    for path, m in seen.items():
        if ALLOWED_EMPTY_STUBS.get(path) == "dir":
            children = [p for p in seen if p.startswith(path + "/") and p not in ALLOWED_EMPTY_STUBS]
            check(not children, f"{path}/ is expected to be an empty mount point, holds {children}")

    if binary is not None:
        if reference != "-":
            ref = open(reference, "rb").read()
            check(hashlib.sha256(binary).digest() == hashlib.sha256(ref).digest(),
                  "the image's /usr/local/bin/app-rust is not the binary this build produced")
        check(elf_is_static(binary), "/usr/local/bin/app-rust is dynamically linked")

    compressed = sum(layer["size"] for layer in manifest["layers"]) + len(config_bytes) + len(manifest_bytes)
    for layer in manifest["layers"]:
        check(layer["mediaType"].endswith("+gzip"), f"layer {layer['digest']} is not gzip-compressed: "
              f"{layer['mediaType']}; the size figure would be wrong")
    check(compressed <= max_bytes, f"compressed image is {compressed} bytes, budget {max_bytes}")

    if failures:
        print("image checks failed:", file=sys.stderr)
        for f in failures:
            print("  - " + f, file=sys.stderr)
        sys.exit(1)
    print(f"compressed_bytes={compressed}")
    print(f"layers={len(manifest['layers'])}")


if __name__ == "__main__":
    main()
