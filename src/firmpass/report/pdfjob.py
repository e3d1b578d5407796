"""report.pdf rendered in a child process while the scan goes on (issue 15).

WeasyPrint is pure Python for most of its work, so a thread would only take turns with the scan
under the GIL; a child process lays the PDF out on the other core while the evidence stage runs.
Nothing is shared: the parent writes the PDF's HTML to OUT/report.pdf.html.tmp and the child
writes OUT/report.pdf.tmp, which `join` moves to OUT/report.pdf when the child succeeded.  A
child that fails or runs out of time costs the PDF only (the caller records a warning); the HTML
and every other result are already on disk.

The child runs this file as a script (`python -P .../pdfjob.py SRC DST`: -P keeps its own directory
off sys.path), so it imports WeasyPrint and nothing of firmpass (importing the report package
would load pydantic models and the message catalogue, ~0.4 s, for nothing).  It prints one JSON line: its wall and CPU
seconds for the PDF alone (WeasyPrint's import included) and the page count, which the report
stage keeps in findings.json (tool.stages.report.pdf_seconds / pdf_cpu / pdf_pages).
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# a 15-page report takes ~2 s; the bound is for a broken font set-up or a machine under heavy load
TIMEOUT = 600.0


class PdfJobError(Exception):
    """The child failed: `detail` is its last line of stderr (or what went wrong starting it)."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class PdfJob:
    def __init__(self, out: Path, html: str):
        self.out = Path(out)
        self.src = self.out / "report.pdf.html.tmp"
        self.tmp = self.out / "report.pdf.tmp"
        self.target = self.out / "report.pdf"
        self.info: dict[str, Any] | None = None
        self.error: PdfJobError | None = None
        self.src.write_text(html, encoding="utf-8")
        self.t0 = time.perf_counter()
        try:
            self.proc: subprocess.Popen | None = subprocess.Popen(
                [sys.executable, "-P", str(Path(__file__).resolve()), str(self.src), str(self.tmp)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(self.out),
                env=self._env())
        except OSError as e:
            self.proc = None
            self.error = PdfJobError(f"cannot start the PDF renderer: {e}")
            self._cleanup()

    def _env(self) -> dict[str, str]:
        """The child's environment: during a scan its temporary files go to the scan's OUT/.tmp
        (firmpass.outdir), set here for the child only, never in this process (scans in threads)."""
        from firmpass.outdir import TMP

        env = dict(os.environ)
        if (self.out / TMP).is_dir():
            env["TMPDIR"] = str(self.out / TMP)
        return env

    def join(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Wait for the child; report.pdf is in place when this returns.  Raises PdfJobError (every
        time it is called) when the PDF could not be made.  Safe to call more than once."""
        if self.info is None and self.error is None and self.proc is not None:
            try:
                stdout, stderr = self.proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.error = PdfJobError(f"the PDF renderer did not finish in {timeout:g} s")
            else:
                wall = time.perf_counter() - self.t0
                if self.proc.returncode == 0 and self.tmp.is_file():
                    os.replace(self.tmp, self.target)
                    try:
                        self.info = json.loads(stdout.decode("utf-8", "replace").strip().splitlines()[-1])
                    except (ValueError, IndexError):
                        self.info = {}
                    self.info["wall"] = round(wall, 3)  # start of the child to its end, as the scan saw it
                else:
                    lines = [ln for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
                    self.error = PdfJobError(lines[-1][:300] if lines else f"exit status {self.proc.returncode}")
            self._cleanup()
        if self.error is not None:
            raise self.error
        return self.info or {}

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
            self.error = self.error or PdfJobError("the PDF renderer was stopped")
        self._cleanup()

    def _cleanup(self) -> None:
        for p in (self.src, self.tmp):
            if p.is_file() or p.is_symlink():  # never a directory someone else made
                p.unlink()


def html_to_pdf(html: str, target: Path) -> int:
    """Write `target` (A4, WeasyPrint); returns its page count."""
    from weasyprint import HTML  # imported late: it is slow to import and --no-pdf needs none of it

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    html, subset = _fontcache().use_subset(html)
    # base_url=None and a fetcher that opens nothing but the cached font subset: a hostile string can
    # never make the renderer fetch anything.  (System fonts need no fetch: Fontconfig and Pango open
    # them.  Without a subset the @font-face's local() source is refused, as it always was: the CJK
    # text then comes from the same system font through Fontconfig's fallback.)
    doc = HTML(string=html, base_url=None, url_fetcher=_fetcher(subset.as_uri() if subset else None)).render()
    doc.write_pdf(target)
    return len(doc.pages)


def _fontcache():
    """fontcache.py beside this file, loaded by path: the child runs with -P and imports no firmpass."""
    mod = sys.modules.get("firmpass.report.fontcache") or sys.modules.get("_firmpass_fontcache")
    if mod is None:
        import importlib.util

        spec = importlib.util.spec_from_file_location("_firmpass_fontcache", Path(__file__).with_name("fontcache.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules["_firmpass_fontcache"] = mod
        spec.loader.exec_module(mod)
    return mod


def _local_only(url: str, allow: str | None = None) -> str:
    """The one URL the PDF may open (the cached font subset), or ValueError."""
    if allow is None or url != allow:
        raise ValueError(f"report: refusing to fetch {url[:80]}")
    return url


def _fetcher(allow: str | None):
    """A WeasyPrint URLFetcher (WeasyPrint 70 calls its `fetch`; the plain function used before failed on every URL)
    that lets `_local_only` decide."""
    from weasyprint.urls import URLFetcher

    class LocalOnly(URLFetcher):
        def fetch(self, url, headers=None):
            return super().fetch(_local_only(url, allow), headers)

    return LocalOnly(allowed_protocols=("file",), allow_redirects=False)


def _child(src: Path, dst: Path) -> None:
    t, c = time.perf_counter(), time.process_time()
    pages = html_to_pdf(src.read_text(encoding="utf-8"), dst)
    print(json.dumps({"seconds": round(time.perf_counter() - t, 3), "cpu": round(time.process_time() - c, 3),
                      "pages": pages}))


if __name__ == "__main__":
    _child(Path(sys.argv[1]), Path(sys.argv[2]))
