"""Spark's extra JVM jars (Kafka, S3A, Delta, PostgreSQL): fetched once from Maven Central, reused after.

`spark/pom.xml` lists them; `mvn dependency:copy-dependencies` copies the resolved set into
`<settings.jars_dir>/spark-<hash of pom.xml>/`. A `.complete` marker is written last, so an interrupted
download is never mistaken for a finished one, and a changed pom gets a fresh folder.
Why Maven and not Spark's own `spark.jars.packages`: see docs/runtime.md.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from shopflow_assets.settings import PROJECT_ROOT, Settings, get_settings

if TYPE_CHECKING:  # rich is imported when a download shows its status line, not when the code location loads
    from rich.console import Console

POM_PATH = PROJECT_ROOT / "spark" / "pom.xml"
MAVEN_SETTINGS_PATH = PROJECT_ROOT / "spark" / "maven-settings.xml"
COMPLETE_MARKER = ".complete"


class SparkJarsError(RuntimeError):
    """The Spark classpath could not be fetched or is inconsistent."""


def pom_hash(pom_path: Path = POM_PATH) -> str:
    return hashlib.sha256(pom_path.read_bytes()).hexdigest()[:12]


def jars_folder(settings: Settings, pom_path: Path = POM_PATH) -> Path:
    return settings.jars_dir / f"spark-{pom_hash(pom_path)}"


def maven_repo_dir(settings: Settings) -> Path:
    return settings.cache_dir / "maven-repo"


def pyspark_jars_dir() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent / "jars"


def artifact_name(jar_name: str) -> str:
    """`hadoop-client-api-3.5.0.jar` -> `hadoop-client-api` (the artifact without its version)."""
    stem = jar_name.removesuffix(".jar")
    candidates = [m for m in re.finditer(r"-(?=\d+\.)", stem)]
    if not candidates:
        return stem
    return stem[: candidates[-1].start()]


def find_duplicate_artifacts(
    extra_jars: Iterable[str], shipped_jars: Iterable[str]
) -> dict[str, tuple[str, str]]:
    """Artifacts present both in our folder and in pyspark/jars: {artifact: (our jar, pyspark's jar)}."""
    shipped = {artifact_name(name): name for name in shipped_jars if name.endswith(".jar")}
    return {
        artifact_name(name): (name, shipped[artifact_name(name)])
        for name in extra_jars
        if name.endswith(".jar") and artifact_name(name) in shipped
    }


def check_no_duplicates(folder: Path, shipped_dir: Path | None = None) -> None:
    shipped_dir = shipped_dir or pyspark_jars_dir()
    duplicates = find_duplicate_artifacts(
        (p.name for p in folder.glob("*.jar")), (p.name for p in shipped_dir.glob("*.jar"))
    )
    if duplicates:
        listing = ", ".join(f"{ours} (pyspark ships {theirs})" for ours, theirs in duplicates.values())
        raise SparkJarsError(
            f"{folder} duplicates jars pyspark already ships: {listing}. "
            f"Add exclusions for them in {POM_PATH}."
        )


def cached_spark_jars(settings: Settings | None = None) -> list[Path] | None:
    """The jars of a completed download for the current pom, or None when they must be fetched."""
    folder = jars_folder(settings or get_settings())
    if not (folder / COMPLETE_MARKER).exists():
        return None
    return sorted(folder.glob("*.jar"))


def ensure_spark_jars(settings: Settings | None = None, console: Console | None = None) -> list[Path]:
    """Return Spark's extra jars, downloading them with Maven the first time (shows progress)."""
    settings = settings or get_settings()
    jars = cached_spark_jars(settings)
    if jars is not None:
        return jars
    folder = jars_folder(settings)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Several processes (tests, Dagster runs) may start Spark at once on a fresh machine: one downloads.
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        jars = cached_spark_jars(settings)
        if jars is not None:
            return jars
        if console is None:
            from rich.console import Console

            console = Console(stderr=True)
        _download(settings, folder, console)
    return sorted(folder.glob("*.jar"))


def _link_to_repository(folder: Path, repository: Path) -> None:
    """Replace each copied jar by a hard link to Maven's copy: the AWS SDK bundle alone is 0.7 GB."""
    originals = {path.name: path for path in repository.rglob("*.jar")}
    for jar in folder.glob("*.jar"):
        original = originals.get(jar.name)
        if original is None or original.stat().st_size != jar.stat().st_size:
            continue
        linked = jar.with_suffix(".link")
        try:
            os.link(original, linked)
        except OSError:  # another file system: keep the copy
            continue
        os.replace(linked, jar)


def _download(settings: Settings, folder: Path, console: Console) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise SparkJarsError(
            "Maven (`mvn`) is needed once to fetch Spark's jars from Maven Central: "
            "install it (Debian: apt-get install maven) or copy a filled "
            f"{folder.name}/ folder into {settings.jars_dir}."
        )
    staging = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", dir=folder.parent))
    command = [
        mvn,
        "-B",
        "-s",
        str(MAVEN_SETTINGS_PATH),
        "-f",
        str(POM_PATH),
        f"-Dmaven.repo.local={maven_repo_dir(settings)}",
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    tail: list[str] = []
    downloaded = 0
    try:
        with console.status(f"Fetching Spark jars into {folder} ...") as status:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
            )
            assert process.stdout is not None
            for line in process.stdout:
                tail = (tail + [line.rstrip()])[-40:]
                if line.startswith("Downloaded from"):
                    downloaded += 1
                    artifact = line.rsplit("/", 1)[-1].split(" ", 1)[0]
                    status.update(f"Fetching Spark jars: {downloaded} files, last {artifact}")
            returncode = process.wait()
        if returncode != 0:
            raise SparkJarsError(
                f"`mvn dependency:copy-dependencies` on {POM_PATH} failed (exit {returncode}):\n"
                + "\n".join(tail)
            )
        check_no_duplicates(staging)
        _link_to_repository(staging, maven_repo_dir(settings))
        names = sorted(p.name for p in staging.glob("*.jar"))
        (staging / COMPLETE_MARKER).write_text("\n".join(names) + "\n")
        if folder.exists():  # a half-finished folder from an older layout: replace it
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    console.print(f"Spark jars ready: {len(names)} jars in {folder} ({downloaded} files downloaded)")
